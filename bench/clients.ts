/**
 * A fleet of socket.io-client connections in a process of its own, forked by the
 * orchestrator: groups of clients (bench/fleet-client.ts) connected, cut and reconnected on
 * command, and the counts of the step being recorded.
 */
import {
  closeClient,
  configureFleet,
  connectClient,
  currentRecording,
  newClient,
  startRecording,
  tokenFor,
  type BenchClient,
} from './fleet-client.js';
import { serveRpc } from './rpc.js';
import { sleep, type ClientSpec, type CpuSample, type Mode, type StepStats } from './common.js';

const groups = new Map<string, BenchClient[]>();

async function pool<T>(items: T[], concurrency: number, work: (item: T) => Promise<void>) {
  let next = 0;
  let failed = 0;
  let firstError: string | null = null;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const item = items[next++] as T;
        try {
          await work(item);
        } catch (error) {
          failed += 1;
          firstError ??= error instanceof Error ? error.message : String(error);
        }
      }
    }),
  );
  return { failed, firstError };
}

serveRpc({
  init: (args: { mode: Mode; ackWindowMs: number; ackIntervalMs: number }) => {
    configureFleet({
      mode: args.mode,
      ackWindowMs: args.ackWindowMs,
      ackIntervalMs: args.ackIntervalMs,
    });
  },
  /** Connects and joins a group of clients, `concurrency` handshakes at a time. */
  connect: async (args: { group: string; clients: ClientSpec[]; concurrency: number }) => {
    const clients = args.clients.map(newClient);
    groups.set(args.group, [...(groups.get(args.group) ?? []), ...clients]);
    for (const client of clients) await tokenFor(client.spec.userId);
    const start = performance.now();
    const { failed, firstError } = await pool(clients, args.concurrency, connectClient);
    return { ms: performance.now() - start, failed, firstError };
  },
  /** Closes every connection of the group (the clients keep their cursors). */
  disconnect: (args: { group: string }) => {
    for (const client of groups.get(args.group) ?? []) closeClient(client);
  },
  forget: (args: { group: string }) => {
    for (const client of groups.get(args.group) ?? []) closeClient(client);
    groups.delete(args.group);
  },
  /**
   * Reconnects the whole group at once (optionally to other servers), joining with the
   * cursor each client had; resolves when every client has `expect` events (0: joined).
   */
  reconnect: async (args: {
    group: string;
    expect: number;
    urlMap: Record<string, string>;
    timeoutMs: number;
  }) => {
    const clients = groups.get(args.group) ?? [];
    let joined = 0;
    let caughtUp = 0;
    let failed = 0;
    let firstError: string | null = null;
    let joinedMs = NaN;
    const start = performance.now();
    const all = clients.map(async (client) => {
      client.spec = { ...client.spec, url: args.urlMap[client.spec.url] ?? client.spec.url };
      client.expect = args.expect;
      const done =
        args.expect > 0
          ? new Promise<void>((resolve) => (client.onCaughtUp = resolve))
          : Promise.resolve();
      try {
        await connectClient(client);
        joined += 1;
        if (joined === clients.length) joinedMs = performance.now() - start;
        await done;
        caughtUp += 1;
      } catch (error) {
        failed += 1;
        firstError ??= error instanceof Error ? error.message : String(error);
      }
    });
    const finished = await Promise.race([
      Promise.all(all).then(() => true),
      sleep(args.timeoutMs).then(() => false),
    ]);
    const ms = performance.now() - start;
    let events = 0;
    for (const client of clients) {
      events += client.receivedSinceConnect;
      client.onCaughtUp = null;
    }
    return { ms, joinedMs, finished, joined, caughtUp, failed, firstError, events };
  },
  /** Starts counting events of `step`. */
  record: (args: { step: number }) => startRecording(args.step),
  /** Measured-window events received so far for the recording step. */
  progress: () => currentRecording().samples.count,
  stats: (): StepStats => currentRecording().stats(),
  cpu: (): CpuSample => {
    const usage = process.cpuUsage();
    return { cpuMicros: usage.user + usage.system, at: performance.now() };
  },
  memory: () => process.memoryUsage().rss,
  stop: () => {
    for (const group of groups.values()) for (const client of group) closeClient(client);
    setTimeout(() => process.exit(0), 50);
  },
});
