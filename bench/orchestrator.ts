/**
 * `npm run bench [-- --help] [-- --quick] [-- --only relay-redis,plain-redis]
 * [-- --skip memory,reconnect] [-- --instances 2,4] [-- --cluster] [-- --profile]
 * [-- --out file.json]`
 *
 * Runs every mode in turn - plain socket.io, socket.io + Redis adapter on 2 and 4
 * instances, thread-relay in memory, thread-relay on 2 and 4 instances with Redis - with
 * the producer in the (first) server process and the clients in a process of their own;
 * then the Redis modes again with the producer in a process of its own
 * (bench/external-producer.ts). Prints the tables, the ratios against the matching
 * socket.io baseline and the targets, and writes everything as JSON under bench/results/.
 * `--cluster` runs instead thread-relay over one Redis against a Redis Cluster (bench/cluster.ts).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { parseCli, USAGE, type Config } from './cli.js';
import {
  clusterMarkdown,
  compareCluster,
  runClusterSection,
  type ClusterComparison,
} from './cluster.js';
import {
  compareExternal,
  externalMarkdown,
  runExternal,
  type ExternalComparison,
  type ExternalResult,
} from './external-producer.js';
import { redis, startRedis, stopRedis } from './bench-redis.js';
import { ROOT, stopAll, stopChildren } from './child-processes.js';
import { closeRedisStats } from './cpu-sampling.js';
import {
  describeStep,
  fmtLatency,
  nextStep,
  P99_LIMIT_MS,
  runStep,
  type Stage,
  type StepResult,
} from './measure-step.js';
import { configureRun } from './run-settings.js';
import { searchMax, type SearchResult } from './search-max.js';
import {
  connectGroup,
  specs,
  startClients,
  startServers,
  waitForConnections,
  type Servers,
} from './servers-and-clients.js';
import type { RpcChild } from './rpc.js';
import { round } from './stats.js';
import {
  BASELINE_OF,
  isRelay,
  modeLabel,
  MODES,
  modeTag,
  serverLetter,
  sleep,
  usesRedis,
  type MemorySample,
  type Mode,
} from './common.js';

const cli = parseCli(process.argv.slice(2));
const runId = new Date()
  .toISOString()
  .replace(/[-:.TZ]/g, '')
  .slice(0, 14);
configureRun({
  runId,
  profile: cli.profile,
  allocProfile: cli.allocProfile,
  redisUrl: cli.redisUrl,
  ackWindowMs: cli.ackWindowMs,
  ackIntervalMs: cli.ackIntervalMs,
});

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
  tag: string,
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
      step: nextStep(),
      threads: list.map((c) => c.threadId),
      perThread: eventsPerClient,
      concurrency: 256,
    },
    300_000,
  );
  if (burst.errors > 0) throw new Error(`${burst.errors} sends of the burst failed`);
  // With several instances every client comes back on the next one.
  const urlMap: Record<string, string> = {};
  servers.urls.forEach((url, i) => {
    if (servers.urls.length > 1)
      urlMap[url] = servers.urls[(i + 1) % servers.urls.length] as string;
  });
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
  if (r.failed > 0) console.log(`  [${tag}] reconnect: ${r.failed} failed: ${r.firstError}`);
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
    `  [${tag}] reconnect ${count} clients + replay ${eventsPerClient} each: ${result.ms} ms ` +
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

async function memoryTest(mode: Mode, instances: number, keyPrefix: string): Promise<MemoryResult> {
  const tag = modeTag(mode, instances);
  const servers = await startServers(mode, instances, keyPrefix, 'mem');
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
      `  [${tag}] memory at ${n} idle connections: ${kib(result.rssBytesPerConnection)} KiB RSS, ` +
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

async function runMode(mode: Mode, instances: number): Promise<ModeResult> {
  const tag = modeTag(mode, instances);
  console.log(`\n== ${modeLabel(mode, instances)} (${tag})`);
  const keyPrefix = `bench:${runId}:${mode}:x${instances}:`;
  const result: ModeResult = {
    mode,
    label: modeLabel(mode, instances),
    instances,
    warmupLost: 0,
    steps: [],
    search: null,
    reconnect: null,
    memory: null,
  };
  const servers = await startServers(mode, instances, `${keyPrefix}live:`, 'live');
  const clients = await startClients(mode, `x${instances}-live`);
  try {
    const list = specs('live', cli.config.clients, servers.urls);
    const stage: Stage = { mode, tag, servers, clients, threads: list.map((c) => c.threadId) };
    const connectMs = await connectGroup(clients, 'live', list);
    console.log(
      `  [${tag}] ${list.length} clients connected and joined in ${Math.round(connectMs)} ms`,
    );
    // Unmeasured: JIT, caches and first appends of every thread, the same for every mode.
    const warm = await runStep(stage, 2_000, 0, cli.config.quick ? 1_500 : 3_000);
    describeStep(tag, 'warm-up (not counted)', warm);
    result.warmupLost = warm.lost;
    if (warm.lost > 0) {
      console.log(
        `  [${tag}] WARNING: ${warm.lost} warm-up events were not delivered ` +
          `(servers: ${JSON.stringify(warm.servers)})`,
      );
    }
    for (const rate of cli.config.rates) {
      const step = await runStep(stage, rate, cli.config.warmupMs, cli.config.measureMs);
      describeStep(tag, 'step', step);
      result.steps.push(step);
    }
    if (!cli.skip.has('search')) result.search = await searchMax(stage, cli.config.search);
    await clients.call('forget', { group: 'live' });
    await waitForConnections(servers, 0);
    if (!cli.skip.has('reconnect')) {
      result.reconnect = await reconnectTest(mode, tag, servers, clients);
    }
  } finally {
    await stopAll([clients, ...servers.procs]);
  }
  if (!cli.skip.has('memory')) {
    result.memory = await memoryTest(mode, instances, `${keyPrefix}mem:`);
  }
  return result;
}

// ---------------------------------------------------------------------------------------
// Report

interface Ratio {
  mode: Mode;
  baseline: Mode;
  /** Both sides ran on this many instances (absent in results from before --instances: 2 for Redis modes). */
  instances?: number;
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
  const out: Ratio[] = [];
  for (const ours of results) {
    const baselineMode = BASELINE_OF[ours.mode];
    const base = results.find((r) => r.mode === baselineMode && r.instances === ours.instances);
    if (!baselineMode || !base) continue;
    const p99: Record<string, number | null> = {};
    for (const step of ours.steps) {
      const baseStep = base.steps.find((s) => s.rate === step.rate);
      p99[String(step.rate)] = ratio(step.latencyMs.p99, baseStep?.latencyMs.p99);
    }
    out.push({
      mode: ours.mode,
      baseline: baselineMode,
      instances: ours.instances,
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

function ratioName(r: Ratio): string {
  const instances = r.instances ?? 2;
  return `${modeTag(r.mode, instances)} / ${modeTag(r.baseline, instances)}`;
}

function targetsOf(results: ModeResult[], ratios: Ratio[]): Target[] {
  const targets: Target[] = [];
  for (const r of ratios) {
    for (const [rate, value] of Object.entries(r.p99)) {
      targets.push({
        target: `p99 ${ratioName(r)} at ${Number(rate) / 1000}k ev/s <= 1.3`,
        value: value === null ? 'n/a' : `${value}x`,
        met: value === null ? null : value <= 1.3,
      });
    }
  }
  const relayRedis = results.find((r) => r.mode === 'relay-redis' && r.instances === 2);
  if (relayRedis?.search) {
    targets.push({
      target: 'relay-redis sustains >= 20k events/s (p99 < 50 ms) on 2 instances',
      value: `${relayRedis.search.maxSustained}/s`,
      met: relayRedis.search.maxSustained >= 20_000,
    });
  }
  for (const r of results.filter((m) => isRelay(m.mode) && m.memory)) {
    const memory = r.memory as MemoryResult;
    targets.push({
      target: `${modeTag(r.mode, r.instances)} memory per idle connection <= 40 KiB (RSS)`,
      value: `${kib(memory.rssBytesPerConnection)} KiB`,
      met: memory.rssBytesPerConnection <= 40 * 1024,
    });
  }
  return targets;
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
        `| ${ratioName(r)} | ${rates.map((rate) => show(r.p99[String(rate)] ?? null)).join(' | ')} | ${show(r.maxSustained)} | ${show(r.rssPerConnection)} | ${show(r.reconnectMs)} |`,
      );
    }
  }
  // CPU time per event is what a busy machine distorts least.
  const cpuRate = rates.includes(5_000) ? 5_000 : rates[0];
  lines.push('');
  const servers = Array.from({ length: Math.max(2, ...results.map((r) => r.instances)) }, (_, i) =>
    serverLetter(i),
  );
  lines.push(
    `| CPU per event at ${(cpuRate ?? 0) / 1000}k ev/s (us) | ${servers.map((s) => `server ${s}`).join(' | ')} | clients | Redis | acks per event |`,
  );
  lines.push(`|${' --- |'.repeat(servers.length + 4)}`);
  for (const r of results) {
    const step = r.steps.find((s) => s.rate === cpuRate);
    const cpu = (role: string) => (step?.cpuMicrosPerEvent[role] ?? 'n/a').toString();
    lines.push(
      `| ${r.label} | ${servers.map((s) => cpu(`server-${s}`)).join(' | ')} | ${cpu('clients')} | ${cpu('redis')} | ${step?.acksPerEvent ?? 'n/a'} |`,
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
  const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  let redisVersion: string;
  try {
    await client.connect();
    redisVersion = /redis_version:(\S+)/.exec(await client.info('server'))?.[1] ?? 'unknown';
  } finally {
    client.disconnect();
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
    redisServer: redis.kind,
    node: process.version,
    redis: redisVersion,
    socketIo: version('socket.io'),
    socketIoClient: version('socket.io-client'),
    redisAdapter: version('@socket.io/redis-adapter'),
    redisEmitter: version('@socket.io/redis-emitter'),
    ioredis: version('ioredis'),
    commit,
  };
}

async function cleanRedis(): Promise<void> {
  const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `bench:${runId}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await client.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
}

/** `--render <results.json>`: prints the tables of an earlier run again. */
function render(file: string): void {
  const report = JSON.parse(readFileSync(file, 'utf8')) as {
    command: string;
    config: Config;
    results: ModeResult[];
    external?: { results: ExternalResult[] };
    cluster?: ClusterComparison | null;
  };
  // Compared again, as the external section is: older results get newer figures too.
  const cluster = report.cluster
    ? compareCluster(report.cluster.single, report.cluster.cluster, report.config.rates)
    : null;
  const { text } = tables(report.config, report.results, report.external?.results ?? [], cluster);
  console.log(`${report.command}\n\n${text}`);
}

/** Every table of a run, and the ratios and targets they show. */
function tables(
  config: Config,
  results: ModeResult[],
  external: ExternalResult[],
  cluster: ClusterComparison | null,
) {
  const ratios = ratiosOf(results);
  const targets = targetsOf(results, ratios);
  const comparisons: ExternalComparison[] = compareExternal(external, config.rates);
  const parts = [];
  if (results.length > 0) parts.push(markdown(config, results, ratios, targets));
  if (external.length > 0) parts.push(externalMarkdown(config.rates, external, comparisons));
  if (cluster) parts.push(clusterMarkdown(cluster));
  return { ratios, targets, comparisons, text: parts.join('\n\n') };
}

/** The in-server section: every mode of --only, the Redis ones once per --instances. */
async function runInServer(): Promise<ModeResult[]> {
  const results: ModeResult[] = [];
  if (cli.skip.has('in-server')) return results;
  for (const mode of cli.modes) {
    for (const instances of usesRedis(mode) ? cli.instances : [1]) {
      results.push(await runMode(mode, instances));
    }
  }
  return results;
}

/** The external-producer section: socket.io then thread-relay, per instances and placement. */
async function runExternalSection(): Promise<ExternalResult[]> {
  const results: ExternalResult[] = [];
  if (cli.skip.has('external')) return results;
  const stacks = MODES.filter((mode) => usesRedis(mode) && cli.modes.includes(mode));
  for (const instances of cli.instances) {
    for (const placement of cli.placements) {
      for (const mode of stacks) {
        results.push(
          await runExternal(mode, instances, placement, {
            runId,
            config: cli.config,
            clientsPerThread: cli.clientsPerThread,
            search: !cli.skip.has('search'),
          }),
        );
      }
    }
  }
  return results;
}

async function main(): Promise<void> {
  if (cli.help) {
    console.log(USAGE);
    return;
  }
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
  let results: ModeResult[] = [];
  let external: ExternalResult[] = [];
  let cluster: ClusterComparison | null = null;
  try {
    if (cli.cluster) {
      cluster = await runClusterSection({
        runId,
        config: cli.config,
        search: !cli.skip.has('search'),
      });
    } else {
      results = await runInServer();
      external = await runExternalSection();
    }
  } finally {
    await cleanRedis().catch(() => undefined);
  }
  const { ratios, targets, comparisons, text } = tables(cli.config, results, external, cluster);
  console.log(`\n${text}\n`);
  // Only the full default run replaces the committed results; narrowed runs go aside.
  const fullRun = process.argv.length <= 2;
  const clusterRun = process.argv.slice(2).join(' ') === '--cluster';
  const defaultName = fullRun
    ? 'latest.json'
    : clusterRun
      ? 'cluster.json'
      : cli.config.quick
        ? 'quick.json'
        : 'partial.json';
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
      instances: cli.instances,
      placements: cli.placements,
      clientsPerThread: cli.clientsPerThread,
      producer:
        'results: in the first server process; with N instances clients alternate between them, so (N-1)/N of the events cross Redis. ' +
        'external: a process of its own (thread-relay createPublisher / @socket.io/redis-emitter), clientsPerThread clients per thread, spread over instances or all on one',
      eventBytes: 'payload ~200 bytes serialised, inside the thread:event envelope',
      redis: redis.kind,
    },
    loadAverageAtEnd: os.loadavg().map((l) => round(l, 2)),
    results,
    ratios,
    targets,
    external: { results: external, comparisons },
    cluster,
    markdown: text,
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

/** Stops every child still running and the private redis-server. */
async function shutdown(): Promise<void> {
  await stopChildren();
  closeRedisStats();
  stopRedis();
}
