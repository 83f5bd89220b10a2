/**
 * The memory scenario of the in-server section: fresh servers of a mode, then many idle
 * connections; the growth of RSS and heap per connection, after garbage collection.
 */
import { stopAll } from './child-processes.js';
import {
  connectGroup,
  specs,
  startClients,
  startServers,
  waitForConnections,
} from './servers-and-clients.js';
import { kib, round } from './stats.js';
import { modeTag, sleep, type MemorySample, type Mode } from './common.js';

export interface MemoryResult {
  connections: number;
  /** Sum over the instances of the RSS growth, divided by the connections. */
  rssBytesPerConnection: number;
  /** Same for V8 heap used + external (array buffers included). */
  heapBytesPerConnection: number;
  connectMs: number;
  before: MemorySample[];
  after: MemorySample[];
}

export async function memoryTest(
  mode: Mode,
  instances: number,
  keyPrefix: string,
  idleConnections: number,
): Promise<MemoryResult> {
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
    const n = idleConnections;
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
