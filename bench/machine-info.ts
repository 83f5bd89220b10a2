/**
 * The machine, Redis and library versions and the commit a run measured, recorded with its
 * results: figures from another machine or commit are not comparable.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { redis } from './bench-redis.js';
import { ROOT } from './child-processes.js';
import { round } from './stats.js';

export async function machineInfo(): Promise<Record<string, unknown>> {
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
