/**
 * `--cluster`: thread-relay on 2 instances over one Redis, then over a Redis Cluster of 3
 * masters with a replica each (the test suite's OwnRedisCluster: real redis-servers on free
 * ports), in-server producer: fixed rates, then the search. On a machine of a few cores
 * the cluster is not faster - its 6 redis-servers share the same cores - what it shows is
 * how the threads (hash-tagged keys, sharded channels) spread over the masters: each
 * master's CPU per event against the single Redis's.
 */
import { Redis } from 'ioredis';
import type { Config } from './cli.js';
import { stopAll } from './child-processes.js';
import { closeRedisStats, type RedisProcess } from './cpu-sampling.js';
import { describeStep, runStep, type Stage, type StepResult } from './measure-step.js';
import { searchMax, type SearchResult } from './search-max.js';
import { connectGroup, specs, startClients, startServers } from './servers-and-clients.js';
import { round } from './stats.js';
// The test suite's helper, not a copy: it needs only node and redis-server, and the bench's
// tsconfig compiles it along (it follows imports out of bench/).
import { OwnRedisCluster } from '../test/support/redis-cluster.js';
import type { ClusterNode } from './common.js';

const MODE = 'relay-redis';
const INSTANCES = 2;

export interface ClusterSide {
  redis: 'single' | 'cluster';
  label: string;
  /** The cluster's nodes as named in `cpuMicrosPerEvent` (`redis-m1`, `redis-r1`...); [] for one Redis. */
  nodes: Array<RedisProcess & { role: 'master' | 'replica' }>;
  warmupLost: number;
  steps: StepResult[];
  search: SearchResult | null;
}

export interface ClusterComparison {
  /** The rate the CPU figures are read at: 5k ev/s when it is one of the rates. */
  cpuRate: number | null;
  single: ClusterSide;
  cluster: ClusterSide;
  /** At `cpuRate`: each master's CPU per event divided by the single Redis's. */
  perMasterShare: number[] | null;
  /**
   * The same at every fixed rate; compare only where both sides reached the rate. The relay
   * sends the same commands per event either way (INFO commandstats), a third to each
   * master, yet a master's share of the CPU is above a third at rates a small machine
   * reaches: it gets its commands in smaller batches, so per-read and per-loop costs spread
   * over fewer of them, and it feeds a replica.
   */
  perMasterShareByRate: Record<string, number[] | null>;
}

export interface ClusterSectionOptions {
  runId: string;
  config: Config;
  search: boolean;
}

async function runSide(
  redis: ClusterSide['redis'],
  options: ClusterSectionOptions,
  cluster?: { nodes: ClusterNode[]; processes: ClusterSide['nodes'] },
): Promise<ClusterSide> {
  const { config } = options;
  const tag = `${MODE} x${INSTANCES} ${redis}`;
  const label = `thread-relay, ${INSTANCES} instances, ${redis === 'single' ? 'one Redis' : '3-master Redis Cluster'}`;
  console.log(`\n== ${label} (${tag})`);
  const keyPrefix = `bench:${options.runId}:cluster:${redis}:`;
  const servers = await startServers(MODE, INSTANCES, keyPrefix, redis, cluster?.nodes);
  const clients = await startClients(MODE, `x${INSTANCES}-${redis}`);
  try {
    const list = specs('live', config.clients, servers.urls);
    const stage: Stage = {
      mode: MODE,
      tag,
      servers,
      clients,
      threads: list.map((c) => c.threadId),
      redisProcesses: cluster?.processes,
    };
    const connectMs = await connectGroup(clients, 'live', list);
    console.log(
      `  [${tag}] ${list.length} clients connected and joined in ${Math.round(connectMs)} ms`,
    );
    const warm = await runStep(stage, 2_000, 0, config.quick ? 1_500 : 3_000);
    describeStep(tag, 'warm-up (not counted)', warm);
    if (warm.lost > 0) console.log(`  [${tag}] WARNING: ${warm.lost} warm-up events not delivered`);
    const steps: StepResult[] = [];
    for (const rate of config.rates) {
      const step = await runStep(stage, rate, config.warmupMs, config.measureMs);
      describeStep(tag, 'step', step);
      steps.push(step);
    }
    const search = options.search ? await searchMax(stage, config.search) : null;
    return { redis, label, nodes: cluster?.processes ?? [], warmupLost: warm.lost, steps, search };
  } finally {
    await stopAll([clients, ...servers.procs]);
  }
}

/**
 * The helper's 2 s node timeout suits its failover tests; a search step that overloads
 * the cores could starve a node that long and measure a failover instead. 15 s is Redis's
 * default.
 */
async function relaxNodeTimeout(ports: number[]): Promise<void> {
  for (const port of ports) {
    const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true });
    try {
      await client.connect();
      await client.config('SET', 'cluster-node-timeout', '15000');
    } finally {
      client.disconnect();
    }
  }
}

export async function runClusterSection(
  options: ClusterSectionOptions,
): Promise<ClusterComparison> {
  const single = await runSide('single', options);
  console.log('\n== starting a Redis Cluster: 3 masters, 3 replicas');
  const own = await OwnRedisCluster.start(3);
  try {
    await relaxNodeTimeout(own.ports);
    const roles = own.roles();
    const url = (port: number) => `redis://127.0.0.1:${port}`;
    const processes: ClusterSide['nodes'] = [
      ...roles.masters.map((port, i) => ({
        name: `redis-m${i + 1}`,
        url: url(port),
        role: 'master' as const,
      })),
      ...roles.replicas.map((port, i) => ({
        name: `redis-r${i + 1}`,
        url: url(port),
        role: 'replica' as const,
      })),
    ];
    console.log(`  ${processes.map((p) => `${p.name} ${p.url}`).join(', ')}`);
    const cluster = await runSide('cluster', options, { nodes: own.nodes, processes });
    // A failover mid-run would have moved a third of the threads: say so.
    const after = own.roles();
    if (after.masters.join() !== roles.masters.join()) {
      console.log(`  WARNING: the masters changed during the run: ${after.masters.join(', ')}`);
    }
    return compareCluster(single, cluster, options.config.rates);
  } finally {
    closeRedisStats();
    await own.dispose();
  }
}

function cpuRateOf(rates: number[]): number | null {
  return rates.includes(5_000) ? 5_000 : (rates[0] ?? null);
}

function cpuAt(side: ClusterSide, rate: number | null): Record<string, number> | undefined {
  return side.steps.find((s) => s.rate === rate)?.cpuMicrosPerEvent;
}

export function compareCluster(
  single: ClusterSide,
  cluster: ClusterSide,
  rates: number[],
): ClusterComparison {
  const masters = cluster.nodes.filter((n) => n.role === 'master');
  const shares = (rate: number | null) => {
    const base = cpuAt(single, rate)?.redis;
    const cpu = cpuAt(cluster, rate);
    return base && base > 0 && cpu
      ? masters.map((m) => round((cpu[m.name] ?? NaN) / base, 2))
      : null;
  };
  const cpuRate = cpuRateOf(rates);
  const perMasterShareByRate = Object.fromEntries(rates.map((rate) => [rate, shares(rate)]));
  return { cpuRate, single, cluster, perMasterShare: shares(cpuRate), perMasterShareByRate };
}

/** The comparison table and the per-master share line. */
export function clusterMarkdown(c: ClusterComparison): string {
  const k = `${(c.cpuRate ?? 0) / 1000}k`;
  const masters = c.cluster.nodes.filter((n) => n.role === 'master');
  const replicas = c.cluster.nodes.filter((n) => n.role === 'replica');
  const lines: string[] = [];
  lines.push(
    `| thread-relay, ${INSTANCES} instances | max sustained, p99 < 50 ms | CPU per event at ${k} ev/s (us): servers | clients | Redis total | ${masters.map((m) => m.name.replace('redis-', '')).join(' | ')} | replicas total |`,
  );
  lines.push(`|${' --- |'.repeat(masters.length + 6)}`);
  for (const side of [c.single, c.cluster]) {
    const cpu = cpuAt(side, c.cpuRate);
    const show = (value: number | undefined) => (value === undefined ? 'n/a' : String(value));
    const sum = (names: string[]) => {
      const values = names.map((n) => cpu?.[n]);
      if (values.length === 0 || values.includes(undefined)) return undefined;
      return round(
        (values as number[]).reduce((a, b) => a + b, 0),
        1,
      );
    };
    const servers = cpu ? Object.keys(cpu).filter((role) => role.startsWith('server-')) : [];
    const sustained = side.search
      ? `${side.search.maxSustained.toLocaleString('en-US')} ev/s`
      : 'n/a';
    lines.push(
      `| ${side.label} | ${sustained} | ${show(sum(servers))} | ${show(cpu?.clients)} | ${show(cpu?.redis)} | ` +
        `${masters.map((m) => (side.nodes.length > 0 ? show(cpu?.[m.name]) : '-')).join(' | ')} | ` +
        `${side.nodes.length > 0 ? show(sum(replicas.map((r) => r.name))) : '-'} |`,
    );
  }
  const share = (s: number[] | null | undefined) => (s ? s.join('/') : 'n/a');
  const others = Object.entries(c.perMasterShareByRate)
    .filter(([rate]) => Number(rate) !== c.cpuRate)
    .map(([rate, s]) => `${Number(rate) / 1000}k: ${share(s)}`);
  lines.push('');
  lines.push(
    `per-master share of single-Redis CPU: ${share(c.perMasterShare)} at ${k} ev/s` +
      `${others.length > 0 ? ` (${others.join(', ')})` : ''}`,
  );
  return lines.join('\n');
}
