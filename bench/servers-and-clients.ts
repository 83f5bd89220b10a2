/**
 * What a scenario runs on: server instances of a mode and a client fleet, each a child
 * process; the clients' specs, connecting them, and waiting until the servers see them.
 */
import { redis } from './bench-redis.js';
import { spawnChild } from './child-processes.js';
import type { RpcChild } from './rpc.js';
import { runSettings } from './run-settings.js';
import { serverLetter, sleep, type ClientSpec, type ClusterNode, type Mode } from './common.js';

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
    ackWindowMs: runSettings.ackWindowMs,
    ackIntervalMs: runSettings.ackIntervalMs,
  });
  return proc;
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
