/**
 * The processes and measurements every bench scenario shares: the private redis-server,
 * forked servers, client fleets and producers, one measured step at a fixed rate, and the
 * search for the highest rate sustained with p99 < 50 ms.
 */
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { RpcChild } from './rpc.js';
import { round } from './stats.js';
import {
  serverLetter,
  sleep,
  usesRedis,
  type ClientSpec,
  type ClusterNode,
  type CpuSample,
  type Mode,
  type ProduceResult,
  type StepStats,
} from './common.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** The project root: HERE is <root>/node_modules/.cache/thread-relay-bench/bench. */
export const ROOT = path.resolve(HERE, '..', '..', '..', '..');
export const P99_LIMIT_MS = 50;

/** What the harness needs from the command line; `configureHarness` sets it. */
export interface HarnessSettings {
  runId: string;
  profile: boolean;
  allocProfile: boolean;
  /** `--redis-url` or REDIS_URL; null: a private redis-server. */
  redisUrl: string | null;
  ackWindowMs: number;
  ackIntervalMs: number;
}

let settings: HarnessSettings = {
  runId: 'bench',
  profile: false,
  allocProfile: false,
  redisUrl: null,
  ackWindowMs: 50,
  ackIntervalMs: 250,
};

export function configureHarness(value: HarnessSettings): void {
  settings = value;
}

/** Set by `startRedis`: a private redis-server unless --redis-url or REDIS_URL names one. */
export const redis = { url: '', kind: '' };

const children = new Set<RpcChild>();

export function spawnChild(name: string, entry: string): RpcChild {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  // BENCH_NODE_ARGS: extra node flags for every child (e.g. --trace-gc), for investigations.
  const execArgv = [
    '--expose-gc',
    ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean),
  ];
  if (settings.allocProfile) {
    const dir = path.join(ROOT, 'bench', 'profiles');
    mkdirSync(dir, { recursive: true });
    env.BENCH_ALLOC_PROFILE = path.join(dir, `${settings.runId}-${name}`);
  }
  if (settings.profile) {
    const dir = path.join(ROOT, 'bench', 'profiles');
    mkdirSync(dir, { recursive: true });
    execArgv.push(
      '--cpu-prof',
      `--cpu-prof-dir=${dir}`,
      `--cpu-prof-name=${settings.runId}-${name}.cpuprofile`,
    );
  }
  const child = new RpcChild(
    name,
    fork(path.join(HERE, entry), [], { cwd: ROOT, env, execArgv, stdio: 'inherit' }),
  );
  children.add(child);
  void child.exited.then(() => children.delete(child));
  return child;
}

let ownRedis: ChildProcess | null = null;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * A private redis-server (no persistence) keeps other users of a shared Redis out of the
 * numbers; `--redis-url` (or REDIS_URL) uses an existing one instead.
 */
export async function startRedis(): Promise<void> {
  if (settings.redisUrl) {
    redis.url = settings.redisUrl;
    redis.kind = 'given (--redis-url / REDIS_URL)';
    return;
  }
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status !== 0) {
    redis.url = 'redis://127.0.0.1:6379';
    redis.kind = 'shared 127.0.0.1:6379 (no redis-server on PATH)';
    return;
  }
  const port = await freePort();
  ownRedis = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  redis.url = `redis://127.0.0.1:${port}`;
  redis.kind = `private redis-server on port ${port}, no persistence`;
  const deadline = Date.now() + 10_000;
  while (!(await pingRedis(port))) {
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not start`);
    await sleep(50);
  }
}

function pingRedis(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

/** A redis-server whose CPU a step samples, named as in `cpuMicrosPerEvent` (`redis-m1`...). */
export interface RedisProcess {
  name: string;
  url: string;
}

/** One plain connection per sampled redis-server (INFO answers on a cluster node too). */
const redisStats = new Map<string, Redis>();

/** A redis-server's own CPU time (user + system, microseconds), to divide by events. */
export async function redisCpuMicros(url = redis.url): Promise<number> {
  let client = redisStats.get(url);
  if (!client) {
    client = new Redis(url, { maxRetriesPerRequest: 1 });
    redisStats.set(url, client);
  }
  const info = await client.info('cpu');
  const read = (name: string) => Number(new RegExp(`${name}:([0-9.]+)`).exec(info)?.[1] ?? NaN);
  return (read('used_cpu_user') + read('used_cpu_sys')) * 1e6;
}

/** Closes the CPU sampling connections, before their servers go (else ioredis retries forever). */
export function closeRedisStats(): void {
  for (const client of redisStats.values()) client.disconnect();
  redisStats.clear();
}

export interface Servers {
  procs: RpcChild[];
  urls: string[];
}

/**
 * `instances` servers of `mode`, named `<mode>-x<instances>-<phase>-server-<letter>`, on the
 * bench's Redis or, given `redisCluster`, on that Redis Cluster (thread-relay only).
 */
export async function startServers(
  mode: Mode,
  instances: number,
  keyPrefix: string,
  phase: string,
  redisCluster?: ClusterNode[],
): Promise<Servers> {
  const procs: RpcChild[] = [];
  const urls: string[] = [];
  for (let i = 0; i < instances; i++) {
    const name = `${mode}-x${instances}-${phase}-server-${serverLetter(i)}`;
    const proc = spawnChild(name, 'server.js');
    procs.push(proc);
    const { url } = await proc.call<{ url: string }>(
      'start',
      { mode, redisUrl: redis.url, redisCluster, keyPrefix, instanceId: name },
      30_000,
    );
    urls.push(url);
  }
  return { procs, urls };
}

export async function startClients(mode: Mode, phase: string): Promise<RpcChild> {
  const proc = spawnChild(`${mode}-${phase}-clients`, 'clients.js');
  await proc.call('init', {
    mode,
    ackWindowMs: settings.ackWindowMs,
    ackIntervalMs: settings.ackIntervalMs,
  });
  return proc;
}

export async function stopAll(procs: RpcChild[]): Promise<void> {
  await Promise.all(procs.map((proc) => proc.stop()));
}

/** `count` clients, one thread each, alternating between `urls`. */
export function specs(prefix: string, count: number, urls: string[]): ClientSpec[] {
  return Array.from({ length: count }, (_, i) => ({
    url: urls[i % urls.length] as string,
    userId: `${prefix}-user-${i}`,
    threadId: `${prefix}-thread-${i}`,
  }));
}

export async function connectGroup(
  clients: RpcChild,
  group: string,
  list: ClientSpec[],
  concurrency = 100,
): Promise<number> {
  const result = await clients.call<{ ms: number; failed: number; firstError: string | null }>(
    'connect',
    { group, clients: list, concurrency },
    300_000,
  );
  if (result.failed > 0) {
    throw new Error(
      `${result.failed} of ${list.length} clients failed to connect: ${result.firstError}`,
    );
  }
  return result.ms;
}

export async function waitForConnections(servers: Servers, expected: number, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const counts = await Promise.all(servers.procs.map((proc) => proc.call<number>('connections')));
    const total = counts.reduce((a, b) => a + b, 0);
    if (total === expected) return;
    if (Date.now() > deadline) {
      throw new Error(`servers hold ${total} connections, expected ${expected}`);
    }
    await sleep(50);
  }
}

// ---------------------------------------------------------------------------------------
// Measurements

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

async function cpuOf(procs: RpcChild[]): Promise<Array<CpuSample & { wall: number }>> {
  return Promise.all(
    procs.map(async (proc) => ({
      ...(await proc.call<CpuSample>('cpu')),
      wall: performance.now(),
    })),
  );
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
  const redisCpu = () => Promise.all(redisProcs.map((r) => redisCpuMicros(r.url)));
  const cpuBefore = await cpuOf(procs);
  const redisBefore = await redisCpu();
  const wallBefore = performance.now();
  const produced = await producer.call<ProduceResult>(
    'produce',
    { step, rate, warmupMs, measureMs, threads },
    warmupMs + measureMs + 120_000,
  );
  const expected = produced.measured * fanout;
  // Drain: wait until every measured event arrived, or nothing more arrives for 1 s.
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
  // Let every queue (sends still waiting for Redis after an overload) drain before the next step.
  await Promise.all(
    [...servers.procs, ...(stage.producer ? [stage.producer] : [])].map((proc) =>
      proc.call('settle', {}, 180_000),
    ),
  );
  const cpuAfter = await cpuOf(procs);
  const redisAfter = await redisCpu();
  const wallAfter = performance.now();
  const stats = await clients.call<StepStats>('stats');
  const diag = await Promise.all(servers.procs.map((proc) => proc.call<object>('diag')));
  const gc = await Promise.all(servers.procs.map((proc) => proc.call<GcStats>('gc')));
  const cpuPercent: Record<string, number> = {};
  const cpuMicrosPerEvent: Record<string, number> = {};
  const events = Math.max(1, produced.sent);
  // `redis` is every sampled redis-server together; a cluster's nodes are also listed one by one.
  const redisUsed = redisProcs.map((_, i) => (redisAfter[i] ?? NaN) - (redisBefore[i] ?? NaN));
  const recordRedis = (name: string, micros: number) => {
    cpuPercent[name] = round((micros / 1000 / (wallAfter - wallBefore)) * 100, 0);
    cpuMicrosPerEvent[name] = round(micros / events, 1);
  };
  if (redisProcs.length > 0)
    recordRedis(
      'redis',
      redisUsed.reduce((a, b) => a + b, 0),
    );
  if (redisProcs.length > 1) {
    redisProcs.forEach((r, i) => recordRedis(r.name, redisUsed[i] as number));
  }
  procs.forEach((proc, i) => {
    const before = cpuBefore[i] as CpuSample & { wall: number };
    const after = cpuAfter[i] as CpuSample & { wall: number };
    const role = proc.name.replace(/^.*?-(server-[A-Z]|clients|producer)$/, '$1');
    cpuPercent[role] = round(
      ((after.cpuMicros - before.cpuMicros) / 1000 / (after.wall - before.wall)) * 100,
      0,
    );
    cpuMicrosPerEvent[role] = round((after.cpuMicros - before.cpuMicros) / events, 1);
  });
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
    cpuPercent,
    cpuMicrosPerEvent,
    sustained: failure === null,
    failure,
    servers: diag,
    gc,
  };
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

export interface SearchResult {
  maxSustained: number;
  firstFailure: { rate: number; reason: string | null } | null;
  steps: StepResult[];
}

export interface SearchConfig {
  /** Rates tried in order until one is not sustained (twice); then halfway back once. */
  rates: number[];
  warmupMs: number;
  measureMs: number;
}

/** Raises the rate until a step is not sustained twice in a row, then tries halfway back. */
export async function searchMax(stage: Stage, search: SearchConfig): Promise<SearchResult> {
  const { rates, warmupMs, measureMs } = search;
  const steps: StepResult[] = [];
  let best = 0;
  let failure: { rate: number; reason: string | null } | null = null;
  const attempt = async (rate: number): Promise<boolean> => {
    for (let tries = 0; tries < 2; tries++) {
      const result = await runStep(stage, rate, warmupMs, measureMs);
      steps.push(result);
      describeStep(stage.tag, 'search', result);
      if (result.sustained) return true;
      failure = { rate, reason: result.failure };
      await sleep(1_000); // let queues drain before the retry
    }
    return false;
  };
  for (const rate of rates) {
    if (!(await attempt(rate))) break;
    best = rate;
  }
  const failedAt = (failure as { rate: number } | null)?.rate;
  if (failedAt !== undefined && best > 0 && failedAt - best >= 2_000) {
    const middle = Math.round((best + failedAt) / 2 / 1000) * 1000;
    if (await attempt(middle)) best = middle;
  }
  return { maxSustained: best, firstFailure: failure, steps };
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

/** Stops every child still running and the private redis-server. */
export async function shutdownHarness(): Promise<void> {
  await Promise.all([...children].map((child) => child.stop(2_000)));
  closeRedisStats();
  ownRedis?.kill();
}
