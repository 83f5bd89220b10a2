/**
 * One measured step: a stage's producer sends at a fixed rate (warm-up, then the measured
 * window), the clients count what arrives, and the step is sustained when everything was
 * produced and delivered with p99 < 50 ms. Its figures, and the log line and table cell of it.
 */
import { redis } from './bench-redis.js';
import { cpuUse, sampleCpu, type RedisProcess } from './cpu-sampling.js';
import type { RpcChild } from './rpc.js';
import type { Servers } from './servers-and-clients.js';
import { round } from './stats.js';
import { sleep, usesRedis, type Mode, type ProduceResult, type StepStats } from './common.js';

export const P99_LIMIT_MS = 50;

export interface StepResult {
  rate: number;
  latencyMs: StepStats['latency'];
  sentMeasured: number;
  /** Clients per thread: each measured event is expected `clientsPerThread` times (absent: 1). */
  clientsPerThread?: number;
  /** Deliveries counted by the clients (events x clients per thread). */
  delivered: number;
  lost: number;
  gaps: number;
  duplicates: number;
  /** Acks sent by the clients per event delivered (thread-relay; 0 for plain socket.io). */
  acksPerEvent: number;
  /** Rate the producer actually achieved over the whole step (events/s). */
  producedRate: number;
  producerErrors: number;
  producerFirstError: string | null;
  maxInFlight: number;
  maxBatch: number;
  /** CPU use of each process (and Redis) during the step, in % of one core. */
  cpuPercent: Record<string, number>;
  /** CPU time of each process (and Redis) per event sent, in microseconds: robust to a busy machine. */
  cpuMicrosPerEvent: Record<string, number>;
  sustained: boolean;
  failure: string | null;
  /** Per server instance: adapter and cross-instance counters. */
  servers: object[];
  /** Per server instance: garbage-collection pauses during the step. */
  gc: GcStats[];
}

export interface GcStats {
  count: number;
  totalMs: number;
  maxMs: number;
  heapUsedMiB: number;
}

let stepCounter = 0;

/** A fresh step number: what the clients count events of. */
export function nextStep(): number {
  return ++stepCounter;
}

/** What a step runs on: servers, a client fleet joined to `threads`, and a producer. */
export interface Stage {
  mode: Mode;
  /** Names the stage in the log, e.g. `relay-redis x4`. */
  tag: string;
  servers: Servers;
  clients: RpcChild;
  threads: string[];
  /** A producer process of its own; absent: the first server produces. */
  producer?: RpcChild;
  /** Clients joined to each thread: deliveries expected per event (default 1). */
  clientsPerThread?: number;
  /** The redis-servers to sample CPU of; absent: the bench's Redis in the Redis modes. */
  redisProcesses?: RedisProcess[];
}

export async function runStep(
  stage: Stage,
  rate: number,
  warmupMs: number,
  measureMs: number,
): Promise<StepResult> {
  const { mode, servers, clients, threads } = stage;
  const fanout = stage.clientsPerThread ?? 1;
  const step = nextStep();
  const producer = stage.producer ?? servers.procs[0];
  if (!producer) throw new Error(`${stage.tag}: no server to produce`);
  const procs = [...servers.procs, clients, ...(stage.producer ? [stage.producer] : [])];
  await clients.call('record', { step });
  await Promise.all(servers.procs.map((proc) => proc.call('gc')));
  const redisProcs =
    stage.redisProcesses ?? (usesRedis(mode) ? [{ name: 'redis', url: redis.url }] : []);
  const cpuBefore = await sampleCpu(procs, redisProcs);
  const produced = await producer.call<ProduceResult>(
    'produce',
    { step, rate, warmupMs, measureMs, threads },
    warmupMs + measureMs + 120_000,
  );
  const expected = produced.measured * fanout;
  await drain(clients, expected);
  // Let every queue (sends still waiting for Redis after an overload) drain before the next step.
  await Promise.all(
    [...servers.procs, ...(stage.producer ? [stage.producer] : [])].map((proc) =>
      proc.call('settle', {}, 180_000),
    ),
  );
  const cpuAfter = await sampleCpu(procs, redisProcs);
  const stats = await clients.call<StepStats>('stats');
  const diag = await Promise.all(servers.procs.map((proc) => proc.call<object>('diag')));
  const gc = await Promise.all(servers.procs.map((proc) => proc.call<GcStats>('gc')));
  const cpu = cpuUse(procs, redisProcs, cpuBefore, cpuAfter, produced.sent);
  const producedRate = (produced.sent * 1000) / produced.elapsedMs;
  const delivered = stats.latency.count;
  const lost = Math.max(0, expected - delivered);
  let failure: string | null = null;
  if (produced.errors > 0) failure = `${produced.errors} sends failed: ${produced.firstError}`;
  else if (producedRate < rate * 0.97) failure = `producer reached ${Math.round(producedRate)}/s`;
  else if (lost > expected * 0.001) failure = `${lost} events not delivered`;
  else if (!(stats.latency.p99 < P99_LIMIT_MS)) failure = `p99 ${stats.latency.p99} ms`;
  return {
    rate,
    latencyMs: stats.latency,
    sentMeasured: produced.measured,
    clientsPerThread: fanout,
    delivered,
    lost,
    gaps: stats.gaps,
    duplicates: stats.duplicates,
    acksPerEvent: round(stats.acks / Math.max(1, stats.received), 2),
    producedRate: Math.round(producedRate),
    producerErrors: produced.errors,
    producerFirstError: produced.firstError,
    maxInFlight: produced.maxInFlight,
    maxBatch: produced.maxBatch,
    cpuPercent: cpu.cpuPercent,
    cpuMicrosPerEvent: cpu.cpuMicrosPerEvent,
    sustained: failure === null,
    failure,
    servers: diag,
    gc,
  };
}

/** Waits until every measured event arrived, or nothing more arrives for 1 s. */
async function drain(clients: RpcChild, expected: number): Promise<void> {
  const drainStart = Date.now();
  let last = -1;
  let lastChange = Date.now();
  for (;;) {
    const got = await clients.call<number>('progress');
    if (got >= expected) break;
    if (got !== last) {
      last = got;
      lastChange = Date.now();
    } else if (Date.now() - lastChange > 1_000) break;
    if (Date.now() - drainStart > 15_000) break;
    await sleep(50);
  }
}

export function describeStep(tag: string, label: string, r: StepResult): void {
  const l = r.latencyMs;
  const cpu = Object.entries(r.cpuPercent)
    .map(([role, pct]) => `${role} ${pct}% ${r.cpuMicrosPerEvent[role]}us/ev`)
    .join(', ');
  const expected = r.sentMeasured * (r.clientsPerThread ?? 1);
  console.log(
    `  [${tag}] ${label} ${r.rate}/s: p50 ${l.p50} p99 ${l.p99} p99.9 ${l.p999} max ${l.max} ms; ` +
      `delivered ${r.delivered}/${expected}, gaps ${r.gaps}, produced ${r.producedRate}/s, ` +
      `acks/event ${r.acksPerEvent}; ` +
      `cpu ${cpu}; gc ${r.gc.map((g) => `${g.totalMs} ms (max ${g.maxMs}, heap ${g.heapUsedMiB} MiB)`).join(' / ')}` +
      `${r.sustained ? '' : ` -> NOT sustained (${r.failure})`}`,
  );
  if (process.env.BENCH_DEBUG) {
    console.log(
      `    producer: maxInFlight ${r.maxInFlight}, maxBatch ${r.maxBatch}; servers: ${JSON.stringify(r.servers)}`,
    );
  }
}

/** A step's latencies for the tables: p50 / p99 / p99.9 (lost ones). */
export function fmtLatency(step: StepResult | undefined): string {
  if (!step) return 'n/a';
  const l = step.latencyMs;
  if (l.count === 0) {
    return step.producerErrors > 0
      ? `overloaded: ${step.producerErrors.toLocaleString('en-US')} sends failed`
      : 'none delivered';
  }
  const lost = step.lost > 0 ? ` (lost ${step.lost})` : '';
  return `${l.p50} / ${l.p99} / ${l.p999}${lost}`;
}
