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
import path from 'node:path';
import { cleanRedis, startRedis, stopRedis } from './bench-redis.js';
import { ROOT, stopChildren } from './child-processes.js';
import { parseCli, USAGE } from './cli.js';
import { runClusterSection, type ClusterComparison } from './cluster.js';
import { closeRedisStats } from './cpu-sampling.js';
import { runExternal, type ExternalResult } from './external-producer.js';
import { runMode, type ModeResult } from './in-server.js';
import { machineInfo } from './machine-info.js';
import { defaultReportName, render, tables, writeReport } from './report.js';
import { configureRun } from './run-settings.js';
import { MODES, usesRedis } from './common.js';

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

/** The in-server section: every mode of --only, the Redis ones once per --instances. */
async function runInServer(): Promise<ModeResult[]> {
  const results: ModeResult[] = [];
  if (cli.skip.has('in-server')) return results;
  for (const mode of cli.modes) {
    for (const instances of usesRedis(mode) ? cli.instances : [1]) {
      results.push(await runMode(mode, instances, { runId, config: cli.config, skip: cli.skip }));
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
    await cleanRedis(runId).catch(() => undefined);
  }
  const shown = tables(cli.config, results, external, cluster);
  console.log(`\n${shown.text}\n`);
  const out =
    cli.out ??
    path.join(ROOT, 'bench', 'results', defaultReportName(process.argv.slice(2), cli.config.quick));
  writeReport(out, { command, startedAt, machine, cli, results, external, cluster }, shown);
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
