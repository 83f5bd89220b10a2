/**
 * The in-server section: one mode with the producer in the first server process and the
 * clients in a process of their own: a warm-up, the fixed rates, then the search, the
 * reconnect scenario and, on fresh servers, the memory scenario.
 */
import type { Config } from './cli.js';
import { stopAll } from './child-processes.js';
import { memoryTest, type MemoryResult } from './memory-scenario.js';
import { describeStep, runStep, type Stage, type StepResult } from './measure-step.js';
import { reconnectTest, type ReconnectResult } from './reconnect-scenario.js';
import { searchMax, type SearchResult } from './search-max.js';
import {
  connectGroup,
  specs,
  startClients,
  startServers,
  waitForConnections,
} from './servers-and-clients.js';
import { modeLabel, modeTag, type Mode } from './common.js';

export interface ModeResult {
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

export interface InServerOptions {
  runId: string;
  config: Config;
  /** `--skip`: search, reconnect and memory apply here. */
  skip: Set<string>;
}

export async function runMode(
  mode: Mode,
  instances: number,
  options: InServerOptions,
): Promise<ModeResult> {
  const { config, skip } = options;
  const tag = modeTag(mode, instances);
  console.log(`\n== ${modeLabel(mode, instances)} (${tag})`);
  const keyPrefix = `bench:${options.runId}:${mode}:x${instances}:`;
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
    const list = specs('live', config.clients, servers.urls);
    const stage: Stage = { mode, tag, servers, clients, threads: list.map((c) => c.threadId) };
    const connectMs = await connectGroup(clients, 'live', list);
    console.log(
      `  [${tag}] ${list.length} clients connected and joined in ${Math.round(connectMs)} ms`,
    );
    // Unmeasured: JIT, caches and first appends of every thread, the same for every mode.
    const warm = await runStep(stage, 2_000, 0, config.quick ? 1_500 : 3_000);
    describeStep(tag, 'warm-up (not counted)', warm);
    result.warmupLost = warm.lost;
    if (warm.lost > 0) {
      console.log(
        `  [${tag}] WARNING: ${warm.lost} warm-up events were not delivered ` +
          `(servers: ${JSON.stringify(warm.servers)})`,
      );
    }
    for (const rate of config.rates) {
      const step = await runStep(stage, rate, config.warmupMs, config.measureMs);
      describeStep(tag, 'step', step);
      result.steps.push(step);
    }
    if (!skip.has('search')) result.search = await searchMax(stage, config.search);
    await clients.call('forget', { group: 'live' });
    await waitForConnections(servers, 0);
    if (!skip.has('reconnect')) {
      result.reconnect = await reconnectTest(mode, tag, servers, clients, config.reconnect);
    }
  } finally {
    await stopAll([clients, ...servers.procs]);
  }
  if (!skip.has('memory')) {
    result.memory = await memoryTest(mode, instances, `${keyPrefix}mem:`, config.idleConnections);
  }
  return result;
}
