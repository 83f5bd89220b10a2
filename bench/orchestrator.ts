/**
 * `npm run bench [-- --quick] [-- --only relay-redis,plain-redis] [-- --skip memory,reconnect]
 * [-- --profile] [-- --alloc-profile] [-- --out file.json]`
 *
 * Runs every mode in turn - plain socket.io, socket.io + Redis adapter on 2 instances,
 * thread-relay in memory, thread-relay on 2 instances with Redis - with the producer in the
 * (first) server process and the clients in a process of their own, then prints the
 * tables, the ratios against the matching socket.io baseline and the targets, and writes
 * everything as JSON under bench/results/.
 */
import { execFileSync, fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { RpcChild } from './rpc.js';
import { round } from './stats.js';
import {
  BASELINE_OF,
  instancesOf,
  isRelay,
  MODE_LABELS,
  MODES,
  sleep,
  type ClientSpec,
  type CpuSample,
  type MemorySample,
  type Mode,
  type ProduceResult,
  type StepStats,
} from './common.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** The project root: HERE is <root>/node_modules/.cache/thread-relay-bench/bench. */
const ROOT = path.resolve(HERE, '..', '..', '..', '..');
/** Set by `startRedis`: a private redis-server unless --redis-url or REDIS_URL names one. */
let REDIS_URL = '';
let redisKind = '';
const P99_LIMIT_MS = 50;

// ---------------------------------------------------------------------------------------
// Configuration

interface Config {
  quick: boolean;
  clients: number;
  rates: number[];
  warmupMs: number;
  measureMs: number;
  /** Rates tried in order until one is not sustained (twice); then halfway back once. */
  search: { rates: number[]; warmupMs: number; measureMs: number };
  idleConnections: number;
  reconnect: { clients: number; eventsPerClient: number };
}

const FULL: Config = {
  quick: false,
  clients: 500,
  rates: [1_000, 5_000, 20_000],
  warmupMs: 1_000,
  measureMs: 5_000,
  search: {
    rates: [1_000, 2_000, 5_000, 10_000, 15_000, 20_000, 30_000, 40_000, 60_000, 80_000, 100_000],
    warmupMs: 1_000,
    measureMs: 3_000,
  },
  idleConnections: 10_000,
  reconnect: { clients: 1_000, eventsPerClient: 50 },
};

const QUICK: Config = {
  quick: true,
  clients: 500,
  rates: [1_000, 5_000, 20_000],
  warmupMs: 500,
  measureMs: 1_500,
  search: { rates: [5_000, 20_000], warmupMs: 500, measureMs: 1_500 },
  idleConnections: 2_000,
  reconnect: { clients: 200, eventsPerClient: 50 },
};

interface Cli {
  config: Config;
  modes: Mode[];
  skip: Set<string>;
  profile: boolean;
  allocProfile: boolean;
  out: string | null;
  redisUrl: string | null;
  /** Clients' ack batch window (the SDK's `ackBatchMs`, default 50). */
  ackWindowMs: number;
  ackIntervalMs: number;
}

function parseCli(argv: string[]): Cli {
  const value = (flag: string): string | undefined => {
    const index = argv.indexOf(flag);
    return index >= 0 ? argv[index + 1] : undefined;
  };
  const only = value('--only');
  const modes = only
    ? only.split(',').map((name) => {
        if (!(MODES as readonly string[]).includes(name)) {
          throw new Error(`--only: unknown mode ${name} (modes: ${MODES.join(', ')})`);
        }
        return name as Mode;
      })
    : [...MODES];
  const config = { ...(argv.includes('--quick') ? QUICK : FULL) };
  const rates = value('--rates');
  if (rates) config.rates = rates.split(',').map(Number);
  return {
    config,
    modes,
    skip: new Set((value('--skip') ?? '').split(',').filter(Boolean)),
    profile: argv.includes('--profile'),
    allocProfile: argv.includes('--alloc-profile'),
    out: value('--out') ?? null,
    redisUrl: value('--redis-url') ?? process.env.REDIS_URL ?? null,
    ackWindowMs: Number(value('--ack-ms') ?? 50),
    ackIntervalMs: Number(value('--ack-interval-ms') ?? 250),
  };
}

// ---------------------------------------------------------------------------------------
// Processes

const cli = parseCli(process.argv.slice(2));
const runId = new Date()
  .toISOString()
  .replace(/[-:.TZ]/g, '')
  .slice(0, 14);
const children = new Set<RpcChild>();

function spawnChild(name: string, entry: string): RpcChild {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  // BENCH_NODE_ARGS: extra node flags for every child (e.g. --trace-gc), for investigations.
  const execArgv = [
    '--expose-gc',
    ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean),
  ];
  if (cli.allocProfile) {
    const dir = path.join(ROOT, 'bench', 'profiles');
    mkdirSync(dir, { recursive: true });
    env.BENCH_ALLOC_PROFILE = path.join(dir, `${runId}-${name}`);
  }
  if (cli.profile) {
    const dir = path.join(ROOT, 'bench', 'profiles');
    mkdirSync(dir, { recursive: true });
    execArgv.push(
      '--cpu-prof',
      `--cpu-prof-dir=${dir}`,
      `--cpu-prof-name=${runId}-${name}.cpuprofile`,
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
async function startRedis(): Promise<void> {
  if (cli.redisUrl) {
    REDIS_URL = cli.redisUrl;
    redisKind = 'given (--redis-url / REDIS_URL)';
    return;
  }
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status !== 0) {
    REDIS_URL = 'redis://127.0.0.1:6379';
    redisKind = 'shared 127.0.0.1:6379 (no redis-server on PATH)';
    return;
  }
  const port = await freePort();
  ownRedis = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  REDIS_URL = `redis://127.0.0.1:${port}`;
  redisKind = `private redis-server on port ${port}, no persistence`;
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

let redisStats: Redis | null = null;

/** Redis's own CPU time (user + system, microseconds), to divide by events. */
async function redisCpuMicros(): Promise<number> {
  redisStats ??= new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  const info = await redisStats.info('cpu');
  const read = (name: string) => Number(new RegExp(`${name}:([0-9.]+)`).exec(info)?.[1] ?? NaN);
  return (read('used_cpu_user') + read('used_cpu_sys')) * 1e6;
}

interface Servers {
  procs: RpcChild[];
  urls: string[];
}

async function startServers(mode: Mode, keyPrefix: string, phase: string): Promise<Servers> {
  const procs: RpcChild[] = [];
  const urls: string[] = [];
  for (let i = 0; i < instancesOf(mode); i++) {
    const name = `${mode}-${phase}-server-${'AB'[i]}`;
    const proc = spawnChild(name, 'server.js');
    procs.push(proc);
    const { url } = await proc.call<{ url: string }>(
      'start',
      { mode, redisUrl: REDIS_URL, keyPrefix, instanceId: name },
      30_000,
    );
    urls.push(url);
  }
  return { procs, urls };
}

async function startClients(mode: Mode, phase: string): Promise<RpcChild> {
  const proc = spawnChild(`${mode}-${phase}-clients`, 'clients.js');
  await proc.call('init', {
    mode,
    ackWindowMs: cli.ackWindowMs,
    ackIntervalMs: cli.ackIntervalMs,
  });
  return proc;
}

async function stopAll(procs: RpcChild[]): Promise<void> {
  await Promise.all(procs.map((proc) => proc.stop()));
}

function specs(prefix: string, count: number, urls: string[]): ClientSpec[] {
  return Array.from({ length: count }, (_, i) => ({
    url: urls[i % urls.length] as string,
    userId: `${prefix}-user-${i}`,
    threadId: `${prefix}-thread-${i}`,
  }));
}

async function connectGroup(
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

async function waitForConnections(servers: Servers, expected: number, timeoutMs = 15_000) {
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

interface StepResult {
  rate: number;
  latencyMs: StepStats['latency'];
  sentMeasured: number;
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

interface GcStats {
  count: number;
  totalMs: number;
  maxMs: number;
  heapUsedMiB: number;
}

let stepCounter = 0;

async function cpuOf(procs: RpcChild[]): Promise<Array<CpuSample & { wall: number }>> {
  return Promise.all(
    procs.map(async (proc) => ({
      ...(await proc.call<CpuSample>('cpu')),
      wall: performance.now(),
    })),
  );
}

async function runStep(
  mode: Mode,
  servers: Servers,
  clients: RpcChild,
  threads: string[],
  rate: number,
  warmupMs: number,
  measureMs: number,
): Promise<StepResult> {
  const step = ++stepCounter;
  const procs = [...servers.procs, clients];
  await clients.call('record', { step });
  await Promise.all(servers.procs.map((proc) => proc.call('gc')));
  const cpuBefore = await cpuOf(procs);
  const redisBefore = mode === 'plain' || mode === 'relay-memory' ? NaN : await redisCpuMicros();
  const wallBefore = performance.now();
  const producer = servers.procs[0] as RpcChild;
  const produced = await producer.call<ProduceResult>(
    'produce',
    { step, rate, warmupMs, measureMs, threads },
    warmupMs + measureMs + 120_000,
  );
  // Drain: wait until every measured event arrived, or nothing more arrives for 1 s.
  const drainStart = Date.now();
  let last = -1;
  let lastChange = Date.now();
  for (;;) {
    const got = await clients.call<number>('progress');
    if (got >= produced.measured) break;
    if (got !== last) {
      last = got;
      lastChange = Date.now();
    } else if (Date.now() - lastChange > 1_000) break;
    if (Date.now() - drainStart > 15_000) break;
    await sleep(50);
  }
  // Let every queue (sends still waiting for Redis after an overload) drain before the next step.
  await Promise.all(servers.procs.map((proc) => proc.call('settle', {}, 180_000)));
  const cpuAfter = await cpuOf(procs);
  const redisAfter = Number.isNaN(redisBefore) ? NaN : await redisCpuMicros();
  const wallAfter = performance.now();
  const stats = await clients.call<StepStats>('stats');
  const diag = await Promise.all(servers.procs.map((proc) => proc.call<object>('diag')));
  const gc = await Promise.all(servers.procs.map((proc) => proc.call<GcStats>('gc')));
  const cpuPercent: Record<string, number> = {};
  const cpuMicrosPerEvent: Record<string, number> = {};
  const events = Math.max(1, produced.sent);
  if (!Number.isNaN(redisBefore)) {
    cpuPercent.redis = round(
      ((redisAfter - redisBefore) / 1000 / (wallAfter - wallBefore)) * 100,
      0,
    );
    cpuMicrosPerEvent.redis = round((redisAfter - redisBefore) / events, 1);
  }
  procs.forEach((proc, i) => {
    const before = cpuBefore[i] as CpuSample & { wall: number };
    const after = cpuAfter[i] as CpuSample & { wall: number };
    const role = proc.name.replace(/^.*?-(server-[AB]|clients)$/, '$1');
    cpuPercent[role] = round(
      ((after.cpuMicros - before.cpuMicros) / 1000 / (after.wall - before.wall)) * 100,
      0,
    );
    cpuMicrosPerEvent[role] = round((after.cpuMicros - before.cpuMicros) / events, 1);
  });
  const producedRate = (produced.sent * 1000) / produced.elapsedMs;
  const delivered = stats.latency.count;
  const lost = Math.max(0, produced.measured - delivered);
  let failure: string | null = null;
  if (produced.errors > 0) failure = `${produced.errors} sends failed: ${produced.firstError}`;
  else if (producedRate < rate * 0.97) failure = `producer reached ${Math.round(producedRate)}/s`;
  else if (lost > produced.measured * 0.001) failure = `${lost} events not delivered`;
  else if (!(stats.latency.p99 < P99_LIMIT_MS)) failure = `p99 ${stats.latency.p99} ms`;
  return {
    rate,
    latencyMs: stats.latency,
    sentMeasured: produced.measured,
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

function describeStep(mode: Mode, label: string, r: StepResult): void {
  const l = r.latencyMs;
  const cpu = Object.entries(r.cpuPercent)
    .map(([role, pct]) => `${role} ${pct}% ${r.cpuMicrosPerEvent[role]}us/ev`)
    .join(', ');
  console.log(
    `  [${mode}] ${label} ${r.rate}/s: p50 ${l.p50} p99 ${l.p99} p99.9 ${l.p999} max ${l.max} ms; ` +
      `delivered ${r.delivered}/${r.sentMeasured}, gaps ${r.gaps}, produced ${r.producedRate}/s, ` +
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

interface SearchResult {
  maxSustained: number;
  firstFailure: { rate: number; reason: string | null } | null;
  steps: StepResult[];
}

/** Raises the rate until a step is not sustained twice in a row, then tries halfway back. */
async function searchMax(
  mode: Mode,
  servers: Servers,
  clients: RpcChild,
  threads: string[],
): Promise<SearchResult> {
  const { rates, warmupMs, measureMs } = cli.config.search;
  const steps: StepResult[] = [];
  let best = 0;
  let failure: { rate: number; reason: string | null } | null = null;
  const attempt = async (rate: number): Promise<boolean> => {
    for (let tries = 0; tries < 2; tries++) {
      const result = await runStep(mode, servers, clients, threads, rate, warmupMs, measureMs);
      steps.push(result);
      describeStep(mode, 'search', result);
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

interface ReconnectResult {
  clients: number;
  eventsPerClient: number;
  expectedEvents: number;
  deliveredEvents: number;
  lostEvents: number;
  /** From the first reconnect until every client had all its missed events (relay) or joined (plain). */
  ms: number;
  /** Until every client's join was answered. */
  joinedMs: number;
  finished: boolean;
  failed: number;
  burstMs: number;
  movedInstance: boolean;
}

async function reconnectTest(
  mode: Mode,
  servers: Servers,
  clients: RpcChild,
): Promise<ReconnectResult> {
  const { clients: count, eventsPerClient } = cli.config.reconnect;
  const list = specs('replay', count, servers.urls);
  await connectGroup(clients, 'replay', list);
  await waitForConnections(servers, count);
  await clients.call('disconnect', { group: 'replay' });
  await waitForConnections(servers, 0);
  const burst = await (servers.procs[0] as RpcChild).call<{
    sent: number;
    errors: number;
    ms: number;
  }>(
    'burst',
    {
      step: ++stepCounter,
      threads: list.map((c) => c.threadId),
      perThread: eventsPerClient,
      concurrency: 256,
    },
    300_000,
  );
  if (burst.errors > 0) throw new Error(`${burst.errors} sends of the burst failed`);
  // With 2 instances every client comes back on the other one.
  const urlMap: Record<string, string> = {};
  const [a, b] = servers.urls;
  if (a && b) {
    urlMap[a] = b;
    urlMap[b] = a;
  }
  const relay = isRelay(mode);
  const r = await clients.call<{
    ms: number;
    joinedMs: number;
    finished: boolean;
    caughtUp: number;
    failed: number;
    firstError: string | null;
    events: number;
  }>(
    'reconnect',
    { group: 'replay', expect: relay ? eventsPerClient : 0, urlMap, timeoutMs: 120_000 },
    180_000,
  );
  if (r.failed > 0) console.log(`  [${mode}] reconnect: ${r.failed} failed: ${r.firstError}`);
  await clients.call('forget', { group: 'replay' });
  const expectedEvents = count * eventsPerClient;
  const result: ReconnectResult = {
    clients: count,
    eventsPerClient,
    expectedEvents,
    deliveredEvents: r.events,
    lostEvents: expectedEvents - r.events,
    ms: round(r.ms, 0),
    joinedMs: round(r.joinedMs, 0),
    finished: r.finished,
    failed: r.failed,
    burstMs: round(burst.ms, 0),
    movedInstance: servers.urls.length > 1,
  };
  console.log(
    `  [${mode}] reconnect ${count} clients + replay ${eventsPerClient} each: ${result.ms} ms ` +
      `(all joined ${result.joinedMs} ms), delivered ${r.events}/${expectedEvents}`,
  );
  return result;
}

interface MemoryResult {
  connections: number;
  /** Sum over the instances of the RSS growth, divided by the connections. */
  rssBytesPerConnection: number;
  /** Same for V8 heap used + external (array buffers included). */
  heapBytesPerConnection: number;
  connectMs: number;
  before: MemorySample[];
  after: MemorySample[];
}

async function memoryTest(mode: Mode, keyPrefix: string): Promise<MemoryResult> {
  const servers = await startServers(mode, keyPrefix, 'mem');
  const clients = await startClients(mode, 'mem');
  try {
    // Warm up the code paths (and lazy allocations) a first connection touches.
    await connectGroup(clients, 'warm', specs('warm', 200, servers.urls));
    await clients.call('forget', { group: 'warm' });
    await waitForConnections(servers, 0);
    await sleep(1_000);
    const before = await Promise.all(servers.procs.map((p) => p.call<MemorySample>('memory')));
    const n = cli.config.idleConnections;
    const connectMs = await connectGroup(clients, 'idle', specs('idle', n, servers.urls), 200);
    await waitForConnections(servers, n);
    await sleep(2_000);
    const after = await Promise.all(servers.procs.map((p) => p.call<MemorySample>('memory')));
    const delta = (pick: (m: MemorySample) => number) =>
      after.reduce((sum, m, i) => sum + pick(m) - pick(before[i] as MemorySample), 0) / n;
    const result: MemoryResult = {
      connections: n,
      rssBytesPerConnection: Math.round(delta((m) => m.rss)),
      heapBytesPerConnection: Math.round(delta((m) => m.heapUsed + m.external)),
      connectMs: round(connectMs, 0),
      before,
      after,
    };
    console.log(
      `  [${mode}] memory at ${n} idle connections: ${kib(result.rssBytesPerConnection)} KiB RSS, ` +
        `${kib(result.heapBytesPerConnection)} KiB heap+external per connection (connected in ${result.connectMs} ms)`,
    );
    return result;
  } finally {
    await stopAll([clients, ...servers.procs]);
  }
}

function kib(bytes: number): number {
  return round(bytes / 1024, 1);
}

interface ModeResult {
  mode: Mode;
  label: string;
  instances: number;
  /** Warm-up events not delivered: should be 0; more means the mode lost events at start. */
  warmupLost: number;
  steps: StepResult[];
  search: SearchResult | null;
  reconnect: ReconnectResult | null;
  memory: MemoryResult | null;
}

async function runMode(mode: Mode): Promise<ModeResult> {
  console.log(`\n== ${MODE_LABELS[mode]} (${mode})`);
  const keyPrefix = `bench:${runId}:${mode}:`;
  const result: ModeResult = {
    mode,
    label: MODE_LABELS[mode],
    instances: instancesOf(mode),
    warmupLost: 0,
    steps: [],
    search: null,
    reconnect: null,
    memory: null,
  };
  const servers = await startServers(mode, `${keyPrefix}live:`, 'live');
  const clients = await startClients(mode, 'live');
  try {
    const list = specs('live', cli.config.clients, servers.urls);
    const threads = list.map((c) => c.threadId);
    const connectMs = await connectGroup(clients, 'live', list);
    console.log(
      `  [${mode}] ${list.length} clients connected and joined in ${Math.round(connectMs)} ms`,
    );
    // Unmeasured: JIT, caches and first appends of every thread, the same for every mode.
    const warm = await runStep(
      mode,
      servers,
      clients,
      threads,
      2_000,
      0,
      cli.config.quick ? 1_500 : 3_000,
    );
    describeStep(mode, 'warm-up (not counted)', warm);
    result.warmupLost = warm.lost;
    if (warm.lost > 0) {
      console.log(
        `  [${mode}] WARNING: ${warm.lost} warm-up events were not delivered ` +
          `(servers: ${JSON.stringify(warm.servers)})`,
      );
    }
    for (const rate of cli.config.rates) {
      const step = await runStep(
        mode,
        servers,
        clients,
        threads,
        rate,
        cli.config.warmupMs,
        cli.config.measureMs,
      );
      describeStep(mode, 'step', step);
      result.steps.push(step);
    }
    if (!cli.skip.has('search')) result.search = await searchMax(mode, servers, clients, threads);
    await clients.call('forget', { group: 'live' });
    await waitForConnections(servers, 0);
    if (!cli.skip.has('reconnect')) result.reconnect = await reconnectTest(mode, servers, clients);
  } finally {
    await stopAll([clients, ...servers.procs]);
  }
  if (!cli.skip.has('memory')) result.memory = await memoryTest(mode, `${keyPrefix}mem:`);
  return result;
}

// ---------------------------------------------------------------------------------------
// Report

interface Ratio {
  mode: Mode;
  baseline: Mode;
  p99: Record<string, number | null>;
  maxSustained: number | null;
  rssPerConnection: number | null;
  reconnectMs: number | null;
}

interface Target {
  target: string;
  value: string;
  met: boolean | null;
}

function ratio(ours: number | undefined, base: number | undefined): number | null {
  if (ours === undefined || base === undefined || !(base > 0) || !Number.isFinite(ours))
    return null;
  return round(ours / base, 2);
}

function ratiosOf(results: ModeResult[]): Ratio[] {
  const byMode = new Map(results.map((r) => [r.mode, r]));
  const out: Ratio[] = [];
  for (const ours of results) {
    const baselineMode = BASELINE_OF[ours.mode];
    const base = baselineMode && byMode.get(baselineMode);
    if (!baselineMode || !base) continue;
    const p99: Record<string, number | null> = {};
    for (const step of ours.steps) {
      const baseStep = base.steps.find((s) => s.rate === step.rate);
      p99[String(step.rate)] = ratio(step.latencyMs.p99, baseStep?.latencyMs.p99);
    }
    out.push({
      mode: ours.mode,
      baseline: baselineMode,
      p99,
      maxSustained: ratio(ours.search?.maxSustained, base.search?.maxSustained),
      rssPerConnection: ratio(
        ours.memory?.rssBytesPerConnection,
        base.memory?.rssBytesPerConnection,
      ),
      reconnectMs: ratio(ours.reconnect?.ms, base.reconnect?.ms),
    });
  }
  return out;
}

function targetsOf(results: ModeResult[], ratios: Ratio[]): Target[] {
  const targets: Target[] = [];
  for (const r of ratios) {
    for (const [rate, value] of Object.entries(r.p99)) {
      targets.push({
        target: `p99 ${r.mode} / ${r.baseline} at ${Number(rate) / 1000}k ev/s <= 1.3`,
        value: value === null ? 'n/a' : `${value}x`,
        met: value === null ? null : value <= 1.3,
      });
    }
  }
  const redis = results.find((r) => r.mode === 'relay-redis');
  if (redis?.search) {
    targets.push({
      target: 'relay-redis sustains >= 20k events/s (p99 < 50 ms) on 2 instances',
      value: `${redis.search.maxSustained}/s`,
      met: redis.search.maxSustained >= 20_000,
    });
  }
  for (const r of results.filter((m) => isRelay(m.mode) && m.memory)) {
    const memory = r.memory as MemoryResult;
    targets.push({
      target: `${r.mode} memory per idle connection <= 40 KiB (RSS)`,
      value: `${kib(memory.rssBytesPerConnection)} KiB`,
      met: memory.rssBytesPerConnection <= 40 * 1024,
    });
  }
  return targets;
}

function fmtLatency(step: StepResult | undefined): string {
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

function markdown(
  config: Config,
  results: ModeResult[],
  ratios: Ratio[],
  targets: Target[],
): string {
  const rates = config.rates;
  const lines: string[] = [];
  lines.push(
    `| mode | ${rates.map((r) => `${r / 1000}k ev/s p50 / p99 / p99.9 (ms)`).join(' | ')} | max sustained, p99 < 50 ms | memory per idle conn (RSS / heap) | ${config.reconnect.clients} clients reconnect + replay ${config.reconnect.eventsPerClient} each |`,
  );
  lines.push(`|${' --- |'.repeat(rates.length + 4)}`);
  for (const r of results) {
    const sustained = r.search ? `${r.search.maxSustained.toLocaleString('en-US')} ev/s` : 'n/a';
    const memory = r.memory
      ? `${kib(r.memory.rssBytesPerConnection)} / ${kib(r.memory.heapBytesPerConnection)} KiB`
      : 'n/a';
    const reconnect = r.reconnect
      ? `${r.reconnect.ms} ms, ${r.reconnect.deliveredEvents.toLocaleString('en-US')} of ${r.reconnect.expectedEvents.toLocaleString('en-US')} missed events delivered`
      : 'n/a';
    lines.push(
      `| ${r.label} | ${rates.map((rate) => fmtLatency(r.steps.find((s) => s.rate === rate))).join(' | ')} | ${sustained} | ${memory} | ${reconnect} |`,
    );
  }
  if (ratios.length > 0) {
    lines.push('');
    lines.push(
      `| ours / baseline | ${rates.map((r) => `p99 at ${r / 1000}k`).join(' | ')} | max sustained | memory per conn (RSS) | reconnect time |`,
    );
    lines.push(`|${' --- |'.repeat(rates.length + 4)}`);
    const show = (value: number | null) => (value === null ? 'n/a' : `${value}x`);
    for (const r of ratios) {
      lines.push(
        `| ${r.mode} / ${r.baseline} | ${rates.map((rate) => show(r.p99[String(rate)] ?? null)).join(' | ')} | ${show(r.maxSustained)} | ${show(r.rssPerConnection)} | ${show(r.reconnectMs)} |`,
      );
    }
  }
  // CPU time per event is what a busy machine distorts least.
  const cpuRate = rates.includes(5_000) ? 5_000 : rates[0];
  lines.push('');
  lines.push(
    `| CPU per event at ${(cpuRate ?? 0) / 1000}k ev/s (us) | server A | server B | clients | Redis | acks per event |`,
  );
  lines.push('| --- | --- | --- | --- | --- | --- |');
  for (const r of results) {
    const step = r.steps.find((s) => s.rate === cpuRate);
    const cpu = (role: string) => (step?.cpuMicrosPerEvent[role] ?? 'n/a').toString();
    lines.push(
      `| ${r.label} | ${cpu('server-A')} | ${cpu('server-B')} | ${cpu('clients')} | ${cpu('redis')} | ${step?.acksPerEvent ?? 'n/a'} |`,
    );
  }
  if (targets.length > 0) {
    lines.push('');
    lines.push('| target | measured | met |');
    lines.push('| --- | --- | --- |');
    for (const t of targets) {
      lines.push(`| ${t.target} | ${t.value} | ${t.met === null ? 'n/a' : t.met ? 'yes' : 'NO'} |`);
    }
  }
  return lines.join('\n');
}

async function machineInfo(): Promise<Record<string, unknown>> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  let redisVersion: string;
  try {
    await redis.connect();
    redisVersion = /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? 'unknown';
  } finally {
    redis.disconnect();
  }
  const version = (pkg: string) =>
    (
      JSON.parse(readFileSync(path.join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as {
        version: string;
      }
    ).version;
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', 'src'], { cwd: ROOT })
      .toString()
      .trim();
    if (dirty) commit += ' (src modified)';
  } catch {
    // not a git checkout
  }
  const cpus = os.cpus();
  return {
    hostname: os.hostname(),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpuModel: cpus[0]?.model ?? 'unknown',
    cpuCount: cpus.length,
    availableParallelism: os.availableParallelism(),
    totalMemoryGiB: round(os.totalmem() / 1024 ** 3, 1),
    loadAverageAtStart: os.loadavg().map((l) => round(l, 2)),
    redisServer: redisKind,
    node: process.version,
    redis: redisVersion,
    socketIo: version('socket.io'),
    socketIoClient: version('socket.io-client'),
    redisAdapter: version('@socket.io/redis-adapter'),
    ioredis: version('ioredis'),
    commit,
  };
}

async function cleanRedis(): Promise<void> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `bench:${runId}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** `--render <results.json>`: prints the tables of an earlier run again. */
function render(file: string): void {
  const report = JSON.parse(readFileSync(file, 'utf8')) as {
    command: string;
    config: Config;
    results: ModeResult[];
  };
  const ratios = ratiosOf(report.results);
  const targets = targetsOf(report.results, ratios);
  console.log(`${report.command}\n\n${markdown(report.config, report.results, ratios, targets)}`);
}

async function main(): Promise<void> {
  const rendered = process.argv.indexOf('--render');
  if (rendered >= 0) {
    render(process.argv[rendered + 1] ?? '');
    return;
  }
  const startedAt = new Date();
  await startRedis();
  const machine = await machineInfo();
  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  console.log(`${command}\n${JSON.stringify(machine)}`);
  const results: ModeResult[] = [];
  try {
    for (const mode of cli.modes) results.push(await runMode(mode));
  } finally {
    await cleanRedis().catch(() => undefined);
  }
  const ratios = ratiosOf(results);
  const targets = targetsOf(results, ratios);
  const table = markdown(cli.config, results, ratios, targets);
  console.log(`\n${table}\n`);
  // Only the full default run replaces the committed results; narrowed runs go aside.
  const fullRun = process.argv.length <= 2;
  const defaultName = fullRun ? 'latest.json' : cli.config.quick ? 'quick.json' : 'partial.json';
  const out = cli.out ?? path.join(ROOT, 'bench', 'results', defaultName);
  mkdirSync(path.dirname(out), { recursive: true });
  const report = {
    command,
    startedAt: startedAt.toISOString(),
    durationSeconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
    machine,
    config: {
      ...cli.config,
      p99LimitMs: P99_LIMIT_MS,
      ackWindowMs: cli.ackWindowMs,
      ackIntervalMs: cli.ackIntervalMs,
      producer:
        'in the first server process; 2-instance modes: clients alternate between the instances, so half of the events cross Redis',
      eventBytes: 'payload ~200 bytes serialised, inside the thread:event envelope',
      redis: redisKind,
    },
    loadAverageAtEnd: os.loadavg().map((l) => round(l, 2)),
    results,
    ratios,
    targets,
    markdown: table,
  };
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`results written to ${path.relative(ROOT, out)}`);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.log(`\n${signal}: stopping the bench processes`);
    void shutdown().finally(() => process.exit(130));
  });
}

try {
  await main();
} finally {
  await shutdown();
}

async function shutdown(): Promise<void> {
  await Promise.all([...children].map((child) => child.stop(2_000)));
  redisStats?.disconnect();
  ownRedis?.kill();
}
