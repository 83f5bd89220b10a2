import { randomUUID } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { RedisMessageLog } from '../src/redis/redis-message-log.js';
import { ReplicaAcks } from '../src/redis/replica-acks.js';
import { RelayUnavailableError } from '../src/errors/relay-unavailable.error.js';
import { RedisKeys } from '../src/redis/redis-keys.js';
import { RedisRegistryStore } from '../src/redis/redis-registry.store.js';
import { describeMessageLog } from './contracts/message-log.contract.js';
import { describeRegistryStore } from './contracts/registry-store.contract.js';
import { OwnRedisCluster } from './support/redis-cluster.js';
import { uniquePrefix } from './support/redis.js';

/**
 * The registry and message-log contracts, run against a real Redis Cluster (3 masters,
 * 3 replicas): every script, transaction and pipeline must stay in one slot, or Redis
 * answers CROSSSLOT and the contract fails.
 */
let cluster: OwnRedisCluster;
const clients: Cluster[] = [];

function newClient(): Cluster {
  const client = new Cluster(cluster.nodes, { enableAutoPipelining: false });
  clients.push(client);
  return client;
}

/** Deletes the prefix's keys on every master (a SCAN sees one node's keys only). */
async function deleteKeys(prefix: string): Promise<void> {
  for (const port of cluster.roles().masters) {
    const node = new Redis(port, '127.0.0.1');
    try {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
        for (const key of keys) await node.unlink(key);
        cursor = next;
      } while (cursor !== '0');
    } finally {
      node.disconnect();
    }
  }
}

/** The port of the master that owns `key`'s slot now. */
async function masterOf(client: Cluster, key: string): Promise<string | undefined> {
  const slot = Number(await client.call('CLUSTER', 'KEYSLOT', key));
  return (client as unknown as { slots: string[][] }).slots[slot]?.[0];
}

/** A log on `client` whose appends `replicas` replicas must confirm within `timeoutMs`. */
function confirmedLog(client: Cluster, prefix: string, replicas: number, timeoutMs: number) {
  return new RedisMessageLog(
    client,
    { ttlSeconds: 600, maxPerThread: 100 },
    prefix,
    undefined,
    65_536,
    undefined,
    new ReplicaAcks({ replicas, timeoutMs, client: newClient() }),
  );
}

beforeAll(async () => {
  cluster = await OwnRedisCluster.start();
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((client) => client.quit().catch(() => client.disconnect())));
  await cluster?.dispose();
});

describeRegistryStore('RedisRegistryStore on Redis Cluster', () => {
  const prefix = uniquePrefix('cluster-registry');
  const client = newClient();
  const logKeys = new RedisKeys(prefix);
  return Promise.resolve({
    store: new RedisRegistryStore(client, prefix, {
      threadDataKeys: (threadId) => logKeys.threadLogKeys(threadId),
    }),
    openPeer: () => Promise.resolve(new RedisRegistryStore(newClient(), prefix)),
    passTime: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
    cleanup: () => deleteKeys(prefix),
  });
});

describeMessageLog('RedisMessageLog on Redis Cluster', (retention) => {
  const prefix = uniquePrefix('cluster-log');
  return Promise.resolve({
    log: new RedisMessageLog(newClient(), retention, prefix, undefined, 65_536, {
      channelOf: (threadId) => `${prefix}thread:{${threadId}}:live`,
      command: 'SPUBLISH',
    }),
    advance: () => undefined,
  });
});

describe('Redis Cluster placement', () => {
  it('confirms each append on a replica when delivery.replicaAcks asks for one', async () => {
    const prefix = uniquePrefix('cluster-wait');
    const client = newClient();
    const waitingFor = (replicas: number, timeoutMs: number) =>
      confirmedLog(client, prefix, replicas, timeoutMs);
    // Threads on every master: WAIT goes to the node of each thread's slot, not a random one.
    const byMaster = new Map<string, string[]>();
    while ([...byMaster.values()].filter((ids) => ids.length >= 3).length < 3) {
      const threadId = `t-${randomUUID()}`;
      const master = (await masterOf(client, `thread:{${threadId}}`)) ?? '';
      byMaster.set(master, [...(byMaster.get(master) ?? []), threadId]);
    }
    const threads = [...byMaster.values()].flatMap((ids) => ids.slice(0, 3));
    const log = waitingFor(1, 2_000);
    const receipts = await Promise.all(
      threads.map((threadId) =>
        log.append({ id: randomUUID(), threadId, type: 'agent_thinking', payload: 1, ts: 1 }),
      ),
    );
    expect(receipts.map((r) => r.event.seq)).toEqual(threads.map(() => 1));
    const twoReplicas = waitingFor(2, 50);
    // One replica per master here: asking for two is refused, not silently accepted.
    await expect(
      twoReplicas.append({ id: randomUUID(), threadId: threads[0]!, type: 't', payload: 1, ts: 1 }),
    ).rejects.toThrow(/1 of 2 replicas/);
    await deleteKeys(prefix);
  });

  it('confirms on the node an ASK redirection sent the append to, during a slot migration', async () => {
    const prefix = uniquePrefix('cluster-ask');
    const client = newClient();
    const log = confirmedLog(client, prefix, 1, 2_000);
    const threadId = `t-${randomUUID()}`;
    const append = (payload: number) =>
      log.append({ id: randomUUID(), threadId, type: 't', payload, ts: 1 });
    await append(1);
    // Move the thread's keys to another master while its slot is still the first one's.
    const slot = Number(await client.call('CLUSTER', 'KEYSLOT', `{${threadId}}`));
    const [sourceAddress = ''] = (client as unknown as { slots: string[][] }).slots[slot] ?? [];
    const masters = cluster.roles().masters.map((port) => new Redis(port, '127.0.0.1'));
    try {
      const ports = masters.map((node) => node.options.port);
      const source = masters[ports.indexOf(Number(sourceAddress.split(':')[1]))]!;
      const target = masters.find((node) => node !== source)!;
      const [sourceId, targetId] = await Promise.all(
        [source, target].map(async (node) => String(await node.call('CLUSTER', 'MYID'))),
      );
      await target.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', sourceId!);
      await source.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', targetId!);
      const keys = ['meta', 'log', 'idem'].map((k) => `${prefix}thread:{${threadId}}:${k}`);
      await source.call(
        'MIGRATE',
        '127.0.0.1',
        target.options.port!,
        '',
        0,
        5_000,
        'KEYS',
        ...keys,
      );
      const waitsOn = async (node: Redis) =>
        Number(/cmdstat_wait:calls=(\d+)/.exec(await node.info('commandstats'))?.[1] ?? 0);
      const [sourceWaits, targetWaits] = await Promise.all([waitsOn(source), waitsOn(target)]);

      // The source answers ASK; the append runs on the target, and is confirmed there.
      await expect(append(2)).resolves.toMatchObject({ appended: true, event: { seq: 2 } });
      expect(await waitsOn(target)).toBe(targetWaits + 1);
      expect(await waitsOn(source)).toBe(sourceWaits);

      for (const node of masters) await node.call('CLUSTER', 'SETSLOT', slot, 'NODE', targetId!);
      expect(await target.xlen(keys[1]!)).toBe(2);
    } finally {
      for (const node of masters) node.disconnect();
    }
    await deleteKeys(prefix);
  });

  it('waits for replicas on a connection of its own: other commands to that master go on', async () => {
    const prefix = uniquePrefix('cluster-wait-own');
    const client = newClient();
    // Two replicas asked, one per master here: each WAIT runs its full second and fails.
    const log = confirmedLog(client, prefix, 2, 1_000);
    const threadId = `t-${randomUUID()}`;
    const settled: string[] = [];
    const appends = Array.from({ length: 5 }, (_, i) =>
      log.append({ id: randomUUID(), threadId, type: 't', payload: i, ts: 1 }).then(
        () => settled.push('append ok'),
        (error: unknown) =>
          settled.push(error instanceof RelayUnavailableError ? 'append refused' : String(error)),
      ),
    );
    // Same slot, so the same master, on the module's command connection.
    await client.set(`${prefix}thread:{${threadId}}:probe`, '1');
    settled.push('other command');
    await Promise.all(appends);
    expect(settled).toEqual(['other command', ...Array<string>(5).fill('append refused')]);
    await deleteKeys(prefix);
  });

  it('spreads threads over every master, and announces each append on its own shard', async () => {
    const prefix = uniquePrefix('cluster-shards');
    const client = newClient();
    const subscriber = client.duplicate([], { shardedSubscribers: true });
    clients.push(subscriber);
    const log = new RedisMessageLog(
      client,
      { ttlSeconds: 600, maxPerThread: 100 },
      prefix,
      undefined,
      65_536,
      { channelOf: (threadId) => `${prefix}thread:{${threadId}}:live`, command: 'SPUBLISH' },
    );
    // Four threads on each master.
    const byMaster = new Map<string, string[]>();
    while ([...byMaster.values()].filter((ids) => ids.length >= 4).length < 3) {
      const threadId = `t-${randomUUID()}`;
      const master = (await masterOf(client, `thread:{${threadId}}`)) ?? '';
      byMaster.set(master, [...(byMaster.get(master) ?? []), threadId]);
    }
    const threads = [...byMaster.values()].flatMap((ids) => ids.slice(0, 4));
    expect(byMaster.size).toBe(3);
    const heard = new Map<string, string>();
    subscriber.on('smessage', (channel: string, message: string) => heard.set(channel, message));
    for (const threadId of threads)
      await subscriber.ssubscribe(`${prefix}thread:{${threadId}}:live`);
    for (const threadId of threads) {
      await log.append({ id: randomUUID(), threadId, type: 'agent_thinking', payload: 1, ts: 1 });
    }
    const deadline = Date.now() + 5_000;
    while (heard.size < threads.length && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    for (const threadId of threads) {
      expect(heard.get(`${prefix}thread:{${threadId}}:live`)).toMatch(/^e1\n[0-9a-f]{16}\n/);
    }
    await deleteKeys(prefix);
  });
});
