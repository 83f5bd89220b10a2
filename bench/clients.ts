/**
 * A fleet of socket.io-client connections in a process of its own, forked by the
 * orchestrator. Every client holds one thread; it measures delivery latency
 * (receive time - `payload.sentAt`), checks that seqs are dense, and for thread-relay
 * acknowledges cumulatively once per 50 ms window, as the SDK's AckBatcher does.
 */
import { io, type Socket } from 'socket.io-client';
import { signUserToken } from '../src/auth/sign-token.js';
import { serveRpc } from './rpc.js';
import { Samples } from './stats.js';
import {
  BENCH_JWT_SECRET,
  sleep,
  wallClock,
  type ClientSpec,
  type CpuSample,
  type Mode,
  type StepStats,
  type WireEvent,
} from './common.js';

/** The SDK's default `ackBatchMs`; `--ack-ms` changes it. */
let ackWindowMs = 50;
/** The SDK's default `ackIntervalMs`; `--ack-interval-ms` changes it. */
let ackIntervalMs = 250;

interface BenchClient {
  spec: ClientSpec;
  socket: Socket | null;
  lastSeq: number;
  epoch: string | undefined;
  /** Events received since the last (re)connect. */
  receivedSinceConnect: number;
  delivered: number;
  acked: number;
  ackTimer: NodeJS.Timeout | null;
  /** When the last ack went out (`performance.now()`). */
  ackSentAt: number;
  onCaughtUp: (() => void) | null;
  expect: number;
}

interface Recording {
  step: number;
  samples: Samples;
  duplicates: number;
  gaps: number;
  outOfOrder: number;
  received: number;
  acks: number;
}

let mode: Mode = 'plain';
const relay = () => mode.startsWith('relay');
const groups = new Map<string, BenchClient[]>();
const tokens = new Map<string, string>();
let recording: Recording = newRecording(-1);

function newRecording(step: number): Recording {
  return {
    step,
    samples: new Samples(),
    duplicates: 0,
    gaps: 0,
    outOfOrder: 0,
    received: 0,
    acks: 0,
  };
}

async function tokenFor(userId: string): Promise<string> {
  let token = tokens.get(userId);
  if (!token) {
    token = await signUserToken(userId, BENCH_JWT_SECRET);
    tokens.set(userId, token);
  }
  return token;
}

function onEvent(client: BenchClient, event: WireEvent): void {
  const now = wallClock();
  const { payload } = event;
  const current = payload.step === recording.step;
  if (event.seq === client.lastSeq + 1) {
    client.lastSeq = event.seq;
  } else if (event.seq <= client.lastSeq) {
    if (current) recording.duplicates += 1;
    return;
  } else {
    if (current) {
      recording.gaps += event.seq - client.lastSeq - 1;
      recording.outOfOrder += 1;
    }
    client.lastSeq = event.seq;
  }
  client.receivedSinceConnect += 1;
  if (current) {
    recording.received += 1;
    if (payload.w === 1) recording.samples.add(now - payload.sentAt);
  }
  if (relay()) noteDelivered(client, event.seq);
  if (client.onCaughtUp && client.receivedSinceConnect >= client.expect) {
    const done = client.onCaughtUp;
    client.onCaughtUp = null;
    done();
  }
}

/**
 * As the SDK's AckBatcher: the highest seq, `ackWindowMs` after a delivery, and no sooner
 * than `ackIntervalMs` after the previous ack of the thread.
 */
function noteDelivered(client: BenchClient, seq: number): void {
  if (seq > client.delivered) client.delivered = seq;
  scheduleAck(client);
}

function scheduleAck(client: BenchClient): void {
  if (client.ackTimer) return;
  const delay = Math.max(ackWindowMs, client.ackSentAt + ackIntervalMs - performance.now());
  client.ackTimer = setTimeout(() => {
    client.ackTimer = null;
    const socket = client.socket;
    const seq = client.delivered;
    if (!socket?.connected || seq <= client.acked) return;
    recording.acks += 1;
    // As the SDK does: with the epoch, and no answer asked for (the server writes back only
    // a refusal).
    socket.emit('thread:ack', { threadId: client.spec.threadId, seq, epoch: client.epoch });
    client.acked = seq;
    client.ackSentAt = performance.now();
  }, delay);
}

async function connectClient(client: BenchClient): Promise<void> {
  const auth = relay() ? { token: await tokenFor(client.spec.userId) } : {};
  const socket = io(client.spec.url, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    auth,
  });
  client.socket = socket;
  client.receivedSinceConnect = 0;
  socket.on('thread:event', (event: WireEvent) => onEvent(client, event));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', (error) => reject(error));
  });
  if (relay()) {
    const join: { threadId: string; lastSeq?: number; epoch?: string } = {
      threadId: client.spec.threadId,
    };
    if (client.epoch !== undefined) {
      join.lastSeq = client.lastSeq;
      join.epoch = client.epoch;
    }
    const answer = (await socket.timeout(30_000).emitWithAck('thread:join', join)) as {
      ok: boolean;
      epoch?: string;
      error?: { message: string };
    };
    if (!answer.ok) throw new Error(`join refused: ${answer.error?.message}`);
    client.epoch = answer.epoch;
  } else {
    const answer = (await socket
      .timeout(30_000)
      .emitWithAck('join', { threadId: client.spec.threadId })) as { ok: boolean };
    if (!answer.ok) throw new Error('join refused');
  }
}

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

function closeClient(client: BenchClient): void {
  if (client.ackTimer) clearTimeout(client.ackTimer);
  client.ackTimer = null;
  client.socket?.removeAllListeners();
  client.socket?.disconnect();
  client.socket = null;
}

serveRpc({
  init: (args: { mode: Mode; ackWindowMs: number; ackIntervalMs: number }) => {
    mode = args.mode;
    ackWindowMs = args.ackWindowMs;
    ackIntervalMs = args.ackIntervalMs;
  },
  /** Connects and joins a group of clients, `concurrency` handshakes at a time. */
  connect: async (args: { group: string; clients: ClientSpec[]; concurrency: number }) => {
    const clients = args.clients.map((spec): BenchClient => ({
      spec,
      socket: null,
      lastSeq: 0,
      epoch: undefined,
      receivedSinceConnect: 0,
      delivered: 0,
      acked: 0,
      ackTimer: null,
      ackSentAt: -Infinity,
      onCaughtUp: null,
      expect: 0,
    }));
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
  record: (args: { step: number }) => {
    recording = newRecording(args.step);
  },
  /** Measured-window events received so far for the recording step. */
  progress: () => recording.samples.count,
  stats: (): StepStats => ({
    latency: recording.samples.summary(),
    received: recording.received,
    duplicates: recording.duplicates,
    gaps: recording.gaps,
    outOfOrder: recording.outOfOrder,
    acks: recording.acks,
  }),
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
