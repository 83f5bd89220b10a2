import { Cluster } from 'ioredis';
import { OwnRedisCluster } from './support/redis-cluster.js';

/** The helper the Redis Cluster suites stand on: a real cluster, 3 masters and 3 replicas. */
describe('a Redis Cluster of the test’s own', () => {
  let cluster: OwnRedisCluster;
  beforeAll(async () => {
    cluster = await OwnRedisCluster.start();
  }, 60_000);
  afterAll(async () => {
    await cluster?.dispose();
  });

  it('starts 3 masters with a replica each, all slots served', async () => {
    const { masters, replicas } = cluster.roles();
    expect(masters).toHaveLength(3);
    expect(replicas).toHaveLength(3);
    const client = new Cluster(cluster.nodes);
    try {
      // Keys spread over every master; a hash tag keeps a thread's keys in one slot.
      await Promise.all(Array.from({ length: 60 }, (_, i) => client.set(`k${i}`, String(i))));
      expect(await client.get('k42')).toBe('42');
      const slots = new Set(
        await Promise.all(
          ['thread:{t1}:meta', 'thread:{t1}:log', 'thread:{t1}:idem'].map(
            async (key) => (await client.call('CLUSTER', 'KEYSLOT', key)) as number,
          ),
        ),
      );
      expect(slots.size).toBe(1);
    } finally {
      client.disconnect();
    }
  });
});
