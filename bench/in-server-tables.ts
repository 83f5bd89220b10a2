/**
 * The in-server section's tables: latencies, max sustained, memory and reconnect per mode;
 * each thread-relay mode against its socket.io baseline on as many instances; CPU per event;
 * and the targets the figures are held to.
 */
import type { Config } from './cli.js';
import type { ModeResult } from './in-server.js';
import type { MemoryResult } from './memory-scenario.js';
import { fmtLatency } from './measure-step.js';
import { kib, round } from './stats.js';
import { BASELINE_OF, isRelay, modeTag, serverLetter, type Mode } from './common.js';

export interface Ratio {
  mode: Mode;
  baseline: Mode;
  /** Both sides ran on this many instances (absent in results from before --instances: 2 for Redis modes). */
  instances?: number;
  p99: Record<string, number | null>;
  maxSustained: number | null;
  rssPerConnection: number | null;
  reconnectMs: number | null;
}

export interface Target {
  target: string;
  value: string;
  met: boolean | null;
}

function ratio(ours: number | undefined, base: number | undefined): number | null {
  if (ours === undefined || base === undefined || !(base > 0) || !Number.isFinite(ours))
    return null;
  return round(ours / base, 2);
}

export function ratiosOf(results: ModeResult[]): Ratio[] {
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

export function targetsOf(results: ModeResult[], ratios: Ratio[]): Target[] {
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

export function inServerMarkdown(
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
