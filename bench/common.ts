/** What the orchestrator, the servers and the client fleets agree on. */

export const BENCH_JWT_SECRET = 'bench-secret-that-is-at-least-32-bytes-long';

export type Mode = 'plain' | 'plain-redis' | 'relay-memory' | 'relay-redis';
export const MODES: readonly Mode[] = ['plain', 'plain-redis', 'relay-memory', 'relay-redis'];

export const MODE_LABELS: Record<Mode, string> = {
  plain: 'socket.io',
  'plain-redis': 'socket.io + redis-adapter, 2 instances',
  'relay-memory': 'thread-relay in-memory',
  'relay-redis': 'thread-relay Redis, 2 instances',
};

/** The plain socket.io mode each thread-relay mode is compared with. */
export const BASELINE_OF: Partial<Record<Mode, Mode>> = {
  'relay-memory': 'plain',
  'relay-redis': 'plain-redis',
};

export function isRelay(mode: Mode): boolean {
  return mode.startsWith('relay');
}

export function instancesOf(mode: Mode): number {
  return mode.endsWith('redis') ? 2 : 1;
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
