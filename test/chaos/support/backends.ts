/**
 * Where the chaos suites' relay instances keep their registry and logs: the shared test
 * Redis (standalone) or a Redis Cluster of the suite's own. A suite takes one of these and
 * runs the same scenario, with the same assertions, on either.
 */
import { Cluster, Redis } from 'ioredis';
import type { OwnRedisCluster } from '../../support/redis-cluster.js';
import { testRedisUrl } from '../../support/redis.js';
import type { TestRelayOptions } from '../../support/relay-app.js';

export interface ChaosBackend {
  /** Appended to titles and report lines: empty for the standalone Redis (the original ones). */
  readonly title: string;
  /**
   * Extra time a dead instance's sweep may take beyond the standalone bound: on a cluster it
   * walks the index buckets over three masters that share the cores with the survivors.
   */
  readonly sweepSlackMs: number;
  /** The `redis` option of every relay child (plain JSON: it reaches the child in its env). */
  redis(): NonNullable<TestRelayOptions['redis']>;
  /** A client of the test process's own, for reading the registry directly; the caller quits it. */
  connect(): Redis | Cluster;
  /** Deletes every key under `prefix`. */
  deleteKeys(prefix: string): Promise<void>;
  /**
   * That the scenario really spread over the backend: on a cluster, every master holds some
   * of the threads' keys under `prefix` (nothing to check on one standalone server).
   */
  expectSpread(prefix: string): Promise<void>;
}

async function scanKeys(redis: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const batch of redis.scanStream({ match: `${prefix}*`, count: 1000 })) {
    keys.push(...(batch as string[]));
  }
  return keys;
}

/** The shared Redis that jest's global setup found or started. */
export function standaloneBackend(): ChaosBackend {
  return {
    title: '',
    sweepSlackMs: 0,
    redis: () => testRedisUrl(),
    connect: () => new Redis(testRedisUrl()),
    async deleteKeys(prefix) {
      const redis = new Redis(testRedisUrl());
      try {
        const keys = await scanKeys(redis, prefix);
        for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
      } finally {
        redis.disconnect();
      }
    },
    expectSpread: () => Promise.resolve(),
  };
}

/**
 * A Redis Cluster (`cluster()` is called only once the suite runs, so it may be started in a
 * `beforeAll`): relay children get `{ cluster: nodes }`, the test reads through an ioredis
 * `Cluster`. A SCAN sees one node only, so keys are listed master by master.
 */
export function clusterBackend(cluster: () => OwnRedisCluster): ChaosBackend {
  /** `work` on a plain connection to each master in turn, by `host:port`. */
  const onEachMaster = async <T>(work: (redis: Redis) => Promise<T>): Promise<Map<string, T>> => {
    const results = new Map<string, T>();
    for (const port of cluster().roles().masters) {
      const redis = new Redis({ host: '127.0.0.1', port });
      try {
        results.set(`127.0.0.1:${port}`, await work(redis));
      } finally {
        redis.disconnect();
      }
    }
    return results;
  };
  return {
    title: ' on Redis Cluster',
    // Measured 1.5-4.8 s in full-suite runs on 2 cores (ttl 1 s, heartbeat 200 ms).
    sweepSlackMs: 5000,
    redis: () => ({ cluster: cluster().nodes }),
    connect: () => new Cluster(cluster().nodes),
    async deleteKeys(prefix) {
      // Keys of different slots cannot go in one DEL, even on the node that holds them all.
      await onEachMaster(async (redis) => {
        const keys = await scanKeys(redis, prefix);
        const pipeline = redis.pipeline();
        for (const key of keys) pipeline.unlink(key);
        await pipeline.exec();
      });
    },
    async expectSpread(prefix) {
      const threadKeys = await onEachMaster(
        async (redis) => (await scanKeys(redis, `${prefix}thread:{`)).length,
      );
      expect(threadKeys.size).toBeGreaterThan(1);
      for (const [node, count] of threadKeys) {
        expect({ node, hasThreadKeys: count > 0 }).toEqual({ node, hasThreadKeys: true });
      }
    },
  };
}
