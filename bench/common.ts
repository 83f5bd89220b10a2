/** What the orchestrator, the servers and the client fleets agree on. */
import { randomUUID } from 'node:crypto';

export const BENCH_JWT_SECRET = 'bench-secret-that-is-at-least-32-bytes-long';

export type Mode = 'plain' | 'plain-redis' | 'relay-memory' | 'relay-redis';
export const MODES: readonly Mode[] = ['plain', 'plain-redis', 'relay-memory', 'relay-redis'];

export const MODE_LABELS: Record<Mode, string> = {
  plain: 'socket.io',
  'plain-redis': 'socket.io + redis-adapter',
  'relay-memory': 'thread-relay in-memory',
  'relay-redis': 'thread-relay Redis',
};

/** The plain socket.io mode each thread-relay mode is compared with. */
export const BASELINE_OF: Partial<Record<Mode, Mode>> = {
  'relay-memory': 'plain',
  'relay-redis': 'plain-redis',
};

export function isRelay(mode: Mode): boolean {
  return mode.startsWith('relay');
}

/** The modes that run on several instances behind Redis (`--instances`). */
export function usesRedis(mode: Mode): boolean {
  return mode.endsWith('redis');
}

export function modeLabel(mode: Mode, instances: number): string {
  return usesRedis(mode) ? `${MODE_LABELS[mode]}, ${instances} instances` : MODE_LABELS[mode];
}

/** `relay-redis x4`: a mode and its instance count, as the logs and tables name it. */
export function modeTag(mode: Mode, instances: number): string {
  return usesRedis(mode) ? `${mode} x${instances}` : mode;
}

/** Letter of a server instance in process names and tables: A, B, C... */
export function serverLetter(index: number): string {
  return String.fromCharCode(65 + index);
}

/** Wall clock with sub-millisecond resolution, comparable between processes on one machine. */
export function wallClock(): number {
  return performance.timeOrigin + performance.now();
}

/** The application payload of every bench event; `step` and `w` tell the clients what to count. */
export interface BenchPayload {
  /** `wallClock()` when the producer handed the event over. */
  sentAt: number;
  /** Which measurement the event belongs to. */
  step: number;
  /** 1 for events of the measured window, 0 for warm-up. */
  w: 0 | 1;
  text: string;
}

/** Serialised payload size the padding aims at. */
export const PAYLOAD_BYTES = 200;
const PAD = 'x'.repeat(
  PAYLOAD_BYTES -
    JSON.stringify({
      sentAt: 1_700_000_000_000.123,
      step: 10,
      w: 1,
      text: '',
    } satisfies BenchPayload).length,
);

export function benchPayload(step: number, measured: boolean): BenchPayload {
  return { sentAt: wallClock(), step, w: measured ? 1 : 0, text: PAD };
}

/** The `thread:event` body, also used by the plain socket.io modes so the frames match in size. */
export interface WireEvent {
  id: string;
  threadId: string;
  seq: number;
  epoch: string;
  type: string;
  payload: BenchPayload;
  ts: number;
}

export const EVENT_TYPE = 'bench_event';

/**
 * For the plain socket.io modes: builds the same envelope as thread-relay's `thread:event`,
 * with a per-thread counter (kept by the producer) for seq.
 */
export function plainEvents(): (threadId: string, step: number, measured: boolean) => WireEvent {
  const seqs = new Map<string, number>();
  return (threadId, step, measured) => {
    const seq = (seqs.get(threadId) ?? 0) + 1;
    seqs.set(threadId, seq);
    return {
      id: randomUUID(),
      threadId,
      seq,
      epoch: 'plain',
      type: EVENT_TYPE,
      payload: benchPayload(step, measured),
      ts: Date.now(),
    };
  };
}

/**
 * External-producer scenarios: where the clients of one thread connect. `spread`: on
 * different instances; `local`: all on one instance (where interest routing can skip the
 * other instances and a broadcast adapter cannot).
 */
export type Placement = 'spread' | 'local';
export const PLACEMENTS: readonly Placement[] = ['spread', 'local'];

/** A Redis Cluster seed node, as thread-relay's `redis: { cluster: [...] }` takes it. */
export interface ClusterNode {
  host: string;
  port: number;
}

export interface ClientSpec {
  url: string;
  userId: string;
  threadId: string;
}

export interface ProduceRequest {
  step: number;
  rate: number;
  warmupMs: number;
  measureMs: number;
  threads: string[];
}

export interface ProduceResult {
  /** Events handed over in the measured window (accepted ones for thread-relay). */
  measured: number;
  sent: number;
  errors: number;
  firstError: string | null;
  /** How long the producer took to hand everything over, against the planned duration. */
  elapsedMs: number;
  plannedMs: number;
  /** Most sends in flight at once (thread-relay: appends not yet resolved). */
  maxInFlight: number;
  /** Largest batch one timer tick had to send, a sign of event-loop stalls. */
  maxBatch: number;
}

export interface BurstRequest {
  step: number;
  threads: string[];
  perThread: number;
  concurrency: number;
}

export interface MemorySample {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  connections: number;
}

export interface CpuSample {
  /** User + system CPU time in microseconds. */
  cpuMicros: number;
  at: number;
}

export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

export interface StepStats {
  latency: LatencySummary;
  received: number;
  /** Events received more than once (by seq). */
  duplicates: number;
  /** Seq numbers skipped: events lost on the wire. */
  gaps: number;
  /** Events received out of seq order. */
  outOfOrder: number;
  /** `thread:ack`s the clients sent during the step (thread-relay). */
  acks: number;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
