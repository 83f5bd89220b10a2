/**
 * The CPU time a step costs each process: the bench's children report their own usage, a
 * redis-server its INFO cpu. Per event sent, it is the figure a busy machine distorts least.
 */
import { Redis } from 'ioredis';
import type { RpcChild } from './rpc.js';
import { round } from './stats.js';
import type { CpuSample } from './common.js';

/** A redis-server whose CPU a step samples, named as in `cpuMicrosPerEvent` (`redis-m1`...). */
export interface RedisProcess {
  name: string;
  url: string;
}

/** One plain connection per sampled redis-server (INFO answers on a cluster node too). */
const redisStats = new Map<string, Redis>();

/** A redis-server's own CPU time (user + system, microseconds), to divide by events. */
export async function redisCpuMicros(url: string): Promise<number> {
  let client = redisStats.get(url);
  if (!client) {
    client = new Redis(url, { maxRetriesPerRequest: 1 });
    redisStats.set(url, client);
  }
  const info = await client.info('cpu');
  const read = (name: string) => Number(new RegExp(`${name}:([0-9.]+)`).exec(info)?.[1] ?? NaN);
  return (read('used_cpu_user') + read('used_cpu_sys')) * 1e6;
}

/** Closes the CPU sampling connections, before their servers go (else ioredis retries forever). */
export function closeRedisStats(): void {
  for (const client of redisStats.values()) client.disconnect();
  redisStats.clear();
}

type ProcessSample = CpuSample & { wall: number };

/** CPU times at one moment: of each process (with when it answered), of each redis-server. */
export interface CpuSnapshot {
  procs: ProcessSample[];
  redis: number[];
  wall: number;
}

export async function sampleCpu(
  procs: RpcChild[],
  redisProcs: RedisProcess[],
): Promise<CpuSnapshot> {
  const samples = await Promise.all(
    procs.map(async (proc) => ({
      ...(await proc.call<CpuSample>('cpu')),
      wall: performance.now(),
    })),
  );
  const redisSamples = await Promise.all(redisProcs.map((r) => redisCpuMicros(r.url)));
  return { procs: samples, redis: redisSamples, wall: performance.now() };
}

export interface CpuUse {
  /** CPU use of each process (and Redis) during the step, in % of one core. */
  cpuPercent: Record<string, number>;
  /** CPU time of each process (and Redis) per event sent, in microseconds. */
  cpuMicrosPerEvent: Record<string, number>;
}

/**
 * Between two snapshots, by role (`redis`, `server-A`, `clients`, `producer`...): `redis` is
 * every sampled redis-server together; a cluster's nodes are also listed one by one.
 */
export function cpuUse(
  procs: RpcChild[],
  redisProcs: RedisProcess[],
  before: CpuSnapshot,
  after: CpuSnapshot,
  sent: number,
): CpuUse {
  const cpuPercent: Record<string, number> = {};
  const cpuMicrosPerEvent: Record<string, number> = {};
  const events = Math.max(1, sent);
  const redisUsed = redisProcs.map((_, i) => (after.redis[i] ?? NaN) - (before.redis[i] ?? NaN));
  const recordRedis = (name: string, micros: number) => {
    cpuPercent[name] = round((micros / 1000 / (after.wall - before.wall)) * 100, 0);
    cpuMicrosPerEvent[name] = round(micros / events, 1);
  };
  if (redisProcs.length > 0)
    recordRedis(
      'redis',
      redisUsed.reduce((a, b) => a + b, 0),
    );
  if (redisProcs.length > 1) {
    redisProcs.forEach((r, i) => recordRedis(r.name, redisUsed[i] as number));
  }
  procs.forEach((proc, i) => {
    const start = before.procs[i] as ProcessSample;
    const end = after.procs[i] as ProcessSample;
    const role = proc.name.replace(/^.*?-(server-[A-Z]|clients|producer)$/, '$1');
    cpuPercent[role] = round(
      ((end.cpuMicros - start.cpuMicros) / 1000 / (end.wall - start.wall)) * 100,
      0,
    );
    cpuMicrosPerEvent[role] = round((end.cpuMicros - start.cpuMicros) / events, 1);
  });
  return { cpuPercent, cpuMicrosPerEvent };
}
