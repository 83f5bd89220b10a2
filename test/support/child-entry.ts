/**
 * The child's side of `child-process.ts`, for the entry points the tests run as processes of
 * their own (`relay-child.ts`, `reference-child.ts`, `producer-child.ts`).
 */

/** Printed by a server child once it listens, followed by its URL. */
export const READY_MARKER = 'RELAY_CHILD_READY';

/**
 * Closes with `close` and exits once stdin ends: the test stops it so (`Child.stop`), or it
 * went away, and no child outlives its run.
 */
export function closeOnStop(close: () => Promise<unknown>): void {
  process.stdin.on('end', () => {
    close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
  process.stdin.resume();
}

/** Tells the parent where `server` listens, then serves until asked to stop. */
export function serveUntilStopped(server: { url: string; close(): Promise<void> }): void {
  process.stdout.write(`${READY_MARKER} ${server.url}\n`);
  closeOnStop(() => server.close());
}
