/**
 * A run's report: every table of its sections, printed and kept in the results JSON, and
 * `--render`, which prints the tables of an earlier run again.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { redis } from './bench-redis.js';
import type { Cli, Config } from './cli.js';
import { clusterMarkdown, compareCluster, type ClusterComparison } from './cluster.js';
import {
  compareExternal,
  externalMarkdown,
  type ExternalComparison,
  type ExternalResult,
} from './external-producer.js';
import type { ModeResult } from './in-server.js';
import { inServerMarkdown, ratiosOf, targetsOf } from './in-server-tables.js';
import { P99_LIMIT_MS } from './measure-step.js';
import { round } from './stats.js';

/** Every table of a run, and the ratios and targets they show. */
export function tables(
  config: Config,
  results: ModeResult[],
  external: ExternalResult[],
  cluster: ClusterComparison | null,
) {
  const ratios = ratiosOf(results);
  const targets = targetsOf(results, ratios);
  const comparisons: ExternalComparison[] = compareExternal(external, config.rates);
  const parts = [];
  if (results.length > 0) parts.push(inServerMarkdown(config, results, ratios, targets));
  if (external.length > 0) parts.push(externalMarkdown(config.rates, external, comparisons));
  if (cluster) parts.push(clusterMarkdown(cluster));
  return { ratios, targets, comparisons, text: parts.join('\n\n') };
}

/** `--render <results.json>`: prints the tables of an earlier run again. */
export function render(file: string): void {
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

/**
 * Where a run's results go without --out: only the full default run replaces the committed
 * results; narrowed runs go aside.
 */
export function defaultReportName(args: string[], quick: boolean): string {
  const fullRun = args.length === 0;
  const clusterRun = args.join(' ') === '--cluster';
  return fullRun
    ? 'latest.json'
    : clusterRun
      ? 'cluster.json'
      : quick
        ? 'quick.json'
        : 'partial.json';
}

export interface Run {
  command: string;
  startedAt: Date;
  machine: Record<string, unknown>;
  cli: Cli;
  results: ModeResult[];
  external: ExternalResult[];
  cluster: ClusterComparison | null;
}

/** Writes the run, its configuration and its tables (from `tables`) as JSON to `out`. */
export function writeReport(out: string, run: Run, shown: ReturnType<typeof tables>): void {
  const { cli } = run;
  mkdirSync(path.dirname(out), { recursive: true });
  const report = {
    command: run.command,
    startedAt: run.startedAt.toISOString(),
    durationSeconds: Math.round((Date.now() - run.startedAt.getTime()) / 1000),
    machine: run.machine,
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
    results: run.results,
    ratios: shown.ratios,
    targets: shown.targets,
    external: { results: run.external, comparisons: shown.comparisons },
    cluster: run.cluster,
    markdown: shown.text,
  };
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
}
