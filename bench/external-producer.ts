/**
 * The Redis modes with the producer in a process of its own (bench/producer.ts), as a
 * worker that hosts no socket.io server would send: thread-relay through its publisher,
 * plain socket.io through @socket.io/redis-emitter into the servers' redis-adapter.
 *
 * Every thread has `clientsPerThread` clients, all of the thread's user:
 * - `spread`: on consecutive instances, so each event is wanted on several instances;
 * - `local`: all on one instance (threads alternate between the instances), so each
 *   event is wanted on one instance only: a broadcast adapter still sends it to every
 *   instance, interest routing need not.
 */
import type { Config } from './cli.js';
import { redis } from './bench-redis.js';
import { spawnChild, stopAll } from './child-processes.js';
import { describeStep, fmtLatency, runStep, type Stage, type StepResult } from './measure-step.js';
import { searchMax, type SearchResult } from './search-max.js';
import {
  connectGroup,
  startClients,
  startServers,
  waitForConnections,
} from './servers-and-clients.js';
import type { ProducerStart } from './producer.js';
import { round } from './stats.js';
import { isRelay, MODE_LABELS, type ClientSpec, type Mode, type Placement } from './common.js';

export interface ExternalResult {
  mode: Mode;
  instances: number;
  placement: Placement;
  clientsPerThread: number;
  threads: number;
  /** Warm-up deliveries missing: should be 0. */
  warmupLost: number;
  steps: StepResult[];
  search: SearchResult | null;
}

export interface ExternalOptions {
  runId: string;
  config: Config;
  clientsPerThread: number;
  search: boolean;
}

/** `total` clients in threads of `perThread`, placed on `urls` as `placement` says. */
export function placeClients(
  placement: Placement,
  total: number,
  perThread: number,
  urls: string[],
): ClientSpec[] {
  const threads = Math.max(1, Math.floor(total / perThread));
  const list: ClientSpec[] = [];
  for (let t = 0; t < threads; t++) {
    for (let j = 0; j < perThread; j++) {
      const instance = placement === 'spread' ? (t + j) % urls.length : t % urls.length;
      list.push({
        url: urls[instance] as string,
        userId: `ext-user-${t}`,
        threadId: `ext-thread-${t}`,
      });
    }
  }
  return list;
}

export async function runExternal(
  mode: Mode,
  instances: number,
  placement: Placement,
  options: ExternalOptions,
): Promise<ExternalResult> {
  const { config, clientsPerThread } = options;
  const tag = `${mode} x${instances} ${placement}, producer process`;
  console.log(
    `\n== ${MODE_LABELS[mode]}, ${instances} instances, producer in a process of its own, ` +
      `${clientsPerThread} clients per thread ${placement === 'spread' ? 'on different instances' : 'on one instance'} (${tag})`,
  );
  const phase = `ext-${placement}`;
  // The servers' keyPrefix: thread-relay's `keyPrefix`, the adapter's key is `<prefix>socket.io`.
  const keyPrefix = `bench:${options.runId}:ext:${mode}:x${instances}:${placement}:`;
  const servers = await startServers(mode, instances, keyPrefix, phase);
  const producer = spawnChild(`${mode}-x${instances}-${phase}-producer`, 'producer.js');
  const clients = await startClients(mode, `x${instances}-${phase}`);
  try {
    await producer.call('start', {
      kind: isRelay(mode) ? 'relay' : 'plain',
      redisUrl: redis.url,
      keyPrefix,
    } satisfies ProducerStart);
    const list = placeClients(placement, config.clients, clientsPerThread, servers.urls);
    const threads = [...new Set(list.map((c) => c.threadId))];
    if (isRelay(mode)) {
      // As an application would: the thread is registered to its user before anyone joins.
      const owners = new Map(list.map((c) => [c.threadId, c.userId]));
      await producer.call('register', { threads: [...owners] }, 120_000);
    }
    const connectMs = await connectGroup(clients, 'ext', list);
    await waitForConnections(servers, list.length);
    console.log(
      `  [${tag}] ${list.length} clients on ${threads.length} threads connected and joined in ${Math.round(connectMs)} ms`,
    );
    const stage: Stage = { mode, tag, servers, clients, threads, producer, clientsPerThread };
    const warm = await runStep(stage, 2_000, 0, config.quick ? 1_500 : 3_000);
    describeStep(tag, 'warm-up (not counted)', warm);
    if (warm.lost > 0) console.log(`  [${tag}] WARNING: ${warm.lost} warm-up deliveries missing`);
    const steps: StepResult[] = [];
    for (const rate of config.rates) {
      const step = await runStep(stage, rate, config.warmupMs, config.measureMs);
      describeStep(tag, 'step', step);
      steps.push(step);
    }
    const search = options.search ? await searchMax(stage, config.search) : null;
    return {
      mode,
      instances,
      placement,
      clientsPerThread,
      threads: threads.length,
      warmupLost: warm.lost,
      steps,
      search,
    };
  } finally {
    await stopAll([clients, producer, ...servers.procs]);
  }
}

// ---------------------------------------------------------------------------------------
// Report

interface Pair {
  ours: number | null;
  plain: number | null;
  /** ours / plain */
  ratio: number | null;
}

/** thread-relay against socket.io + redis-adapter, same instances and placement. */
export interface ExternalComparison {
  instances: number;
  placement: Placement;
  /** The rate the CPU figures are read at: 5k ev/s when it is one of the rates. */
  cpuRate: number | null;
  /** CPU time per event (us) of every server process and Redis together. */
  serversAndRedisMicros: Pair;
  /** CPU time per event (us) of the producer process. */
  producerMicros: Pair;
  maxSustained: Pair;
  /** p99 of thread-relay minus p99 of socket.io (ms), per rate. */
  p99AddedMs: Record<string, number | null>;
}

function cpuRateOf(rates: number[]): number | null {
  return rates.includes(5_000) ? 5_000 : (rates[0] ?? null);
}

/**
 * CPU per event of the servers and Redis together; null without a Redis figure, or when
 * sends failed (the failed ones cost next to nothing and would flatter the figure).
 */
function serversAndRedis(step: StepResult | undefined): number | null {
  const cpu = step?.cpuMicrosPerEvent;
  if (!cpu || cpu.redis === undefined || step.producerErrors > 0) return null;
  let sum = cpu.redis;
  for (const [role, micros] of Object.entries(cpu)) if (role.startsWith('server-')) sum += micros;
  return round(sum, 1);
}

function pair(ours: number | null | undefined, plain: number | null | undefined): Pair {
  const o = ours ?? null;
  const p = plain ?? null;
  return { ours: o, plain: p, ratio: o !== null && p !== null && p > 0 ? round(o / p, 2) : null };
}

export function compareExternal(results: ExternalResult[], rates: number[]): ExternalComparison[] {
  const cpuRate = cpuRateOf(rates);
  const out: ExternalComparison[] = [];
  for (const ours of results.filter((r) => r.mode === 'relay-redis')) {
    const plain = results.find(
      (r) =>
        r.mode === 'plain-redis' &&
        r.instances === ours.instances &&
        r.placement === ours.placement,
    );
    if (!plain) continue;
    const at = (r: ExternalResult, rate: number | null) => r.steps.find((s) => s.rate === rate);
    const producerCpu = (step: StepResult | undefined) =>
      step && step.producerErrors === 0 ? step.cpuMicrosPerEvent.producer : null;
    const p99AddedMs: Record<string, number | null> = {};
    for (const rate of rates) {
      const a = at(ours, rate)?.latencyMs;
      const b = at(plain, rate)?.latencyMs;
      p99AddedMs[String(rate)] =
        a && b && a.count > 0 && b.count > 0 ? round(a.p99 - b.p99, 2) : null;
    }
    out.push({
      instances: ours.instances,
      placement: ours.placement,
      cpuRate,
      serversAndRedisMicros: pair(
        serversAndRedis(at(ours, cpuRate)),
        serversAndRedis(at(plain, cpuRate)),
      ),
      producerMicros: pair(producerCpu(at(ours, cpuRate)), producerCpu(at(plain, cpuRate))),
      maxSustained: pair(ours.search?.maxSustained, plain.search?.maxSustained),
      p99AddedMs,
    });
  }
  return out;
}

function label(r: { instances: number; placement: Placement }): string {
  return `${r.instances} instances, ${r.placement}`;
}

export function externalMarkdown(
  rates: number[],
  results: ExternalResult[],
  comparisons: ExternalComparison[],
): string {
  const cpuRate = cpuRateOf(rates);
  const k = (rate: number | null) => `${(rate ?? 0) / 1000}k`;
  const lines: string[] = [];
  lines.push(
    `| producer in a process of its own | ${rates.map((r) => `${k(r)} ev/s p50 / p99 / p99.9 (ms)`).join(' | ')} | max sustained, p99 < 50 ms | CPU per event at ${k(cpuRate)} (us): servers + Redis | producer | clients |`,
  );
  lines.push(`|${' --- |'.repeat(rates.length + 5)}`);
  for (const r of results) {
    const step = r.steps.find((s) => s.rate === cpuRate);
    const sustained = r.search ? `${r.search.maxSustained.toLocaleString('en-US')} ev/s` : 'n/a';
    lines.push(
      `| ${MODE_LABELS[r.mode]}, ${label(r)} (${r.clientsPerThread} clients per thread) | ` +
        `${rates.map((rate) => fmtLatency(r.steps.find((s) => s.rate === rate))).join(' | ')} | ${sustained} | ` +
        `${serversAndRedis(step) ?? 'n/a'} | ${step?.cpuMicrosPerEvent.producer ?? 'n/a'} | ${step?.cpuMicrosPerEvent.clients ?? 'n/a'} |`,
    );
  }
  if (comparisons.length > 0) {
    const show = (p: Pair, unit = '') =>
      p.ratio === null ? 'n/a' : `${p.ratio}x (${p.ours}${unit} / ${p.plain}${unit})`;
    const ms = (value: number | null | undefined) =>
      value === null || value === undefined ? 'n/a' : `${value > 0 ? '+' : ''}${value}`;
    lines.push('');
    lines.push(
      `| thread-relay / socket.io + redis-adapter, producer process | CPU per event at ${k(cpuRate)}, servers + Redis (ours / plain us) | producer CPU per event (us) | max sustained (ev/s) | ${rates.map((r) => `p99 added at ${k(r)} (ms)`).join(' | ')} |`,
    );
    lines.push(`|${' --- |'.repeat(rates.length + 4)}`);
    for (const c of comparisons) {
      lines.push(
        `| ${label(c)} | ${show(c.serversAndRedisMicros)} | ${show(c.producerMicros)} | ${show(c.maxSustained)} | ` +
          `${rates.map((rate) => ms(c.p99AddedMs[String(rate)])).join(' | ')} |`,
      );
    }
  }
  return lines.join('\n');
}
