/**
 * Forced disconnect storm (chaos) on Redis Cluster: the thread-relay side of the storm in
 * support/disconnect-storm.ts (the same one test/chaos/disconnect-storm runs on the shared
 * Redis) with the two relay processes on a cluster of the suite's own (3 masters, 3
 * replicas): 200 clients, 1,000 connections cut while producers send through both
 * instances; every app must get exactly 1..N of its thread, once, in order, and the
 * registry must list exactly the live connections afterwards. (The socket.io baseline only
 * speaks a Redis URL and is measured by the standalone suite alone.)
 */
import { OwnRedisCluster } from '../support/redis-cluster.js';
import { clusterBackend } from './support/backends.js';
import { disconnectStormSuite } from './support/disconnect-storm.js';

let cluster: OwnRedisCluster | undefined;

beforeAll(async () => {
  cluster = await OwnRedisCluster.start();
}, 60_000);

afterAll(async () => {
  await cluster?.dispose();
});

disconnectStormSuite(
  clusterBackend(() => {
    if (!cluster) throw new Error('the Redis Cluster did not start');
    return cluster;
  }),
  { baseline: false },
);
