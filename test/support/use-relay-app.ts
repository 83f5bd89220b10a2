import {
  startRelayApp,
  type HostAppOptions,
  type RelayApp,
  type TestRelayOptions,
} from './relay-app.js';

/**
 * `start` in the `beforeAll` of the describe block this is called in, `close` in its
 * `afterAll`. Returns a stand-in for what `start` resolves to: the block's tests and hooks
 * read through it to the running app (and fail plainly outside of that). Closing it early
 * is allowed; the `afterAll` then has nothing left to close.
 *
 * Jest runs a block's hooks in the order they are declared: setup that needs the app comes
 * below the call, and cleanup that must run before the app closes (clients, proxies) above.
 */
function useStarted<T extends { close(): Promise<void> }>(start: () => Promise<T>): T {
  let current: T | undefined;
  beforeAll(async () => {
    current = await start();
  });
  afterAll(async () => {
    await current?.close();
    current = undefined;
  });
  const closeEarly = async () => {
    const closing = current;
    current = undefined;
    await closing?.close();
  };
  return new Proxy({} as T, {
    get(_, key) {
      if (key === 'close') return closeEarly;
      // Not a promise: a handle returned from an async function must not be awaited into.
      if (key === 'then') return undefined;
      if (!current) throw new Error(`the app is not running (reading ${String(key)})`);
      return Reflect.get(current, key) as unknown;
    },
  });
}

/**
 * A relay app (see `startRelayApp`) for the describe block this is called in. `options` may
 * be a function, called in `beforeAll`, for options that need the test Redis.
 */
export function useRelayApp(
  options: TestRelayOptions | (() => TestRelayOptions) = {},
  host: HostAppOptions = {},
): RelayApp {
  return useStarted(() => startRelayApp(typeof options === 'function' ? options() : options, host));
}

/**
 * `count` relay apps for the describe block, started one after the other: `options` once
 * for all of them (one key prefix), plus `perInstance(i)` for each.
 */
export function useRelayApps(
  count: number,
  options: TestRelayOptions | (() => TestRelayOptions),
  perInstance: (index: number) => TestRelayOptions = () => ({}),
): RelayApp[] {
  let shared: TestRelayOptions | undefined;
  const sharedOptions = () => (shared ??= typeof options === 'function' ? options() : options);
  return Array.from({ length: count }, (_, i) =>
    useRelayApp(() => ({ ...sharedOptions(), ...perInstance(i) })),
  );
}
