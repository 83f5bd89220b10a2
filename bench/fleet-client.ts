/**
 * One client of a fleet: a socket.io-client connection joined to its thread. It measures
 * delivery latency (receive time - `payload.sentAt`) into the step being recorded, checks
 * that seqs are dense, and for thread-relay acknowledges cumulatively as the SDK's
 * AckBatcher does.
 */
import { io, type Socket } from 'socket.io-client';
import { signUserToken } from '../src/auth/sign-token.js';
import { StepRecording } from './step-recording.js';
import {
  BENCH_JWT_SECRET,
  wallClock,
  type ClientSpec,
  type Mode,
  type WireEvent,
} from './common.js';

/** What the fleet's `init` sets for every client. */
const fleet = {
  mode: 'plain' as Mode,
  /** The SDK's default `ackBatchMs`; `--ack-ms` changes it. */
  ackWindowMs: 50,
  /** The SDK's default `ackIntervalMs`; `--ack-interval-ms` changes it. */
  ackIntervalMs: 250,
};

export function configureFleet(settings: typeof fleet): void {
  Object.assign(fleet, settings);
}

const relay = () => fleet.mode.startsWith('relay');

export interface BenchClient {
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

export function newClient(spec: ClientSpec): BenchClient {
  return {
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
  };
}

let recording = new StepRecording(-1);

/** Starts counting events of `step`. */
export function startRecording(step: number): void {
  recording = new StepRecording(step);
}

export function currentRecording(): StepRecording {
  return recording;
}

const tokens = new Map<string, string>();

export async function tokenFor(userId: string): Promise<string> {
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
  const delay = Math.max(
    fleet.ackWindowMs,
    client.ackSentAt + fleet.ackIntervalMs - performance.now(),
  );
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

/** Connects and joins the client's thread, from its cursor when it had one (thread-relay). */
export async function connectClient(client: BenchClient): Promise<void> {
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
      .emitWithAck('thread:join', { threadId: client.spec.threadId })) as { ok: boolean };
    if (!answer.ok) throw new Error('join refused');
  }
}

export function closeClient(client: BenchClient): void {
  if (client.ackTimer) clearTimeout(client.ackTimer);
  client.ackTimer = null;
  client.socket?.removeAllListeners();
  client.socket?.disconnect();
  client.socket = null;
}
