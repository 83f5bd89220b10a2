/**
 * Chaos on Redis Cluster: the instance-kill scenario (support/instance-kill.ts, the same
 * one test/chaos/instance-kill runs on the shared Redis) with the three relay processes on
 * a cluster of the suite's own (3 masters, 3 replicas). One instance is SIGKILLed while
 * producers stream into all of them; its clients must come back on the survivors, its
 * registry entries be swept within the liveness bound, and every client get each thread's
 * events 1..head exactly once, in order.
 */
import { OwnRedisCluster } from '../support/redis-cluster.js';
import { clusterBackend } from './support/backends.js';
import { instanceKillSuite } from './support/instance-kill.js';

let cluster: OwnRedisCluster | undefined;

beforeAll(async () => {
  cluster = await OwnRedisCluster.start();
}, 60_000);

afterAll(async () => {
  await cluster?.dispose();
});

instanceKillSuite(
  clusterBackend(() => {
    if (!cluster) throw new Error('the Redis Cluster did not start');
    return cluster;
  }),
);
