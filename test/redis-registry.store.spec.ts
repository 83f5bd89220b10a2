import { BadRequestError } from '../src/errors/bad-request.error.js';
import { Redis } from 'ioredis';
import { InvalidOptionError } from '../src/errors/invalid-option.error.js';
import { INDEX_BUCKETS, indexBucketOf, RedisKeys } from '../src/redis/redis-keys.js';
import { RedisRegistryStore } from '../src/redis/redis-registry.store.js';
import { collectPages, describeRegistryStore } from './contracts/registry-store.contract.js';
import { testRedisUrl, uniquePrefix } from './support/redis.js';
import { OwnRedisServer } from './support/own-redis-server.js';

async function deleteKeys(client: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    if (keys.length > 0) await client.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
}

async function keysWithPrefix(client: Redis, prefix: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    found.push(...keys);
    cursor = next;
  } while (cursor !== '0');
  return found.sort();
}

/** Clients of one test; quitting them all lets jest exit without --forceExit. */
class Clients {
  private readonly open: Redis[] = [];

  create(url = testRedisUrl()): Redis {
    const client = new Redis(url, { maxRetriesPerRequest: 2 });
    this.open.push(client);
    return client;
  }

  async quitAll(): Promise<void> {
    const open = this.open.splice(0).filter((c) => c.status !== 'end');
    await Promise.all(open.map((c) => c.quit()));
  }
}

describeRegistryStore('RedisRegistryStore', () => {
  const prefix = uniquePrefix('registry');
  const clients = new Clients();
  const client = clients.create();
  return Promise.resolve({
    store: new RedisRegistryStore(client, prefix),
    openPeer: () => Promise.resolve(new RedisRegistryStore(clients.create(), prefix)),
    passTime: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
    cleanup: async () => {
      await deleteKeys(client, prefix);
      await clients.quitAll();
    },
  });
});

describe('RedisRegistryStore on Redis', () => {
  const clients = new Clients();
  let prefix: string;
  let client: Redis;
  let store: RedisRegistryStore;

  beforeEach(() => {
    prefix = uniquePrefix('registry');
    client = clients.create();
    store = new RedisRegistryStore(client, prefix);
  });

  afterEach(async () => {
    const cleaner = clients.create();
    await deleteKeys(cleaner, prefix);
    await clients.quitAll();
  });

  const thread = (threadId: string, ownerId: string) => ({
    threadId,
    ownerId,
    createdAt: 1_700_000_000_000,
    metadata: { title: 't' },
  });

  it('keeps thread_registry as a plain threadId -> owner hash', async () => {
    await store.claimThread(thread('thread_13679e4dcc38403a', 'alice'));
    await store.claimThread(thread('thread_other', 'bob'));
    await store.claimThread(thread('thread_other', 'mallory'));
    await expect(client.hgetall(`${prefix}thread_registry`)).resolves.toEqual({
      thread_13679e4dcc38403a: 'alice',
      thread_other: 'bob',
    });
    await store.putRun(
      'thread_13679e4dcc38403a_run_1756919162904_9adf1f09',
      'thread_13679e4dcc38403a',
    );
    await expect(
      client.get(`${prefix}run:{thread_13679e4dcc38403a_run_1756919162904_9adf1f09}`),
    ).resolves.toBe('thread_13679e4dcc38403a');
  });

  it('hash-tags every per-thread, per-user, per-connection and per-instance key', async () => {
    await store.claimThread(thread('t-1', 'alice'));
    await store.putRun('r-1', 't-1');
    await store.putConnection({
      connectionId: 'c-1',
      userId: 'alice',
      instanceId: 'i-1',
      transport: 'websocket',
      connectedAt: 1,
      lastSeenAt: 1,
      threads: [],
    });
    await store.addConnectionThread('c-1', 't-1');
    await store.recordDelivered('t-1', 'alice', 3, 'e1');
    await store.heartbeatInstance('i-1', 60_000);

    const keys = await keysWithPrefix(client, prefix);
    const local = keys.map((k) => k.slice(prefix.length));
    expect(local).toEqual(
      [
        'conn:{c-1}',
        'conn:{c-1}:threads',
        `connections:{${indexBucketOf('c-1')}}`,
        'instance:{i-1}',
        'instance:{i-1}:conns',
        'instances',
        'run:{r-1}',
        'thread:{t-1}',
        'thread:{t-1}:conns',
        'thread:{t-1}:delivered',
        'thread:{t-1}:runs',
        'thread_registry',
        'user:{alice}:conns',
        'user:{alice}:threads',
      ].sort(),
    );
    for (const key of local.filter((k) => k.startsWith('thread:'))) {
      expect(key).toContain('{t-1}');
    }
    await expect(client.hgetall(`${prefix}thread:{t-1}`)).resolves.toEqual({
      ownerId: 'alice',
      createdAt: '1700000000000',
      metadata: '{"title":"t"}',
    });
  });

  it('decides ownership on the per-thread hash; a thread_registry entry alone is no thread', async () => {
    await store.claimThread(thread('t-1', 'alice'));
    // What a lease that ran out leaves until the sweep: the index entry without the hash.
    await client.del(`${prefix}thread:{t-1}`);
    await expect(store.getThread('t-1')).resolves.toBeNull();
    await expect(store.listThreads(null, 10)).resolves.toEqual({ items: [], nextCursor: null });
    await expect(store.threadsOfUser('alice')).resolves.toEqual([]);
    await expect(store.claimThread(thread('t-1', 'bob'))).resolves.toEqual({
      outcome: 'created',
      record: thread('t-1', 'bob'),
    });
    await expect(client.hget(`${prefix}thread_registry`, 't-1')).resolves.toBe('bob');
  });

  it('gives a leased thread a TTL and the lease index an entry; adoption removes both', async () => {
    await store.claimThread(thread('t-1', 'alice'), { ttlSeconds: 600, maxPerUser: 10 });
    const ttl = await client.ttl(`${prefix}thread:{t-1}`);
    expect(ttl).toBeGreaterThan(590);
    const leases = `${prefix}thread_leases:{${indexBucketOf('t-1')}}`;
    expect(Number(await client.zscore(leases, 't-1'))).toBeGreaterThan(Date.now() + 590_000);
    await expect(client.smembers(`${prefix}user:{alice}:leased`)).resolves.toEqual(['t-1']);
    await store.claimThread(thread('t-1', 'alice'));
    await expect(client.ttl(`${prefix}thread:{t-1}`)).resolves.toBe(-1);
    await expect(client.zscore(leases, 't-1')).resolves.toBeNull();
    await expect(client.smembers(`${prefix}user:{alice}:leased`)).resolves.toEqual([]);
  });

  it('clears the log keys of an earlier thread under the id when a new thread is created', async () => {
    const logKeys = (threadId: string) => [`${prefix}thread:{${threadId}}:meta`];
    const withLog = new RedisRegistryStore(client, prefix, { threadDataKeys: logKeys });
    await client.hset(`${prefix}thread:{t-1}:meta`, { epoch: 'old', head: '9' });
    await withLog.claimThread(thread('t-1', 'alice'));
    await expect(client.exists(`${prefix}thread:{t-1}:meta`)).resolves.toBe(0);
    // An existing thread's claim leaves its log alone.
    await client.hset(`${prefix}thread:{t-1}:meta`, { epoch: 'new', head: '1' });
    await withLog.claimThread(thread('t-1', 'alice'));
    await expect(client.exists(`${prefix}thread:{t-1}:meta`)).resolves.toBe(1);
  });

  it('expires delivered cursors with the log they count', async () => {
    const short = new RedisRegistryStore(client, prefix, { deliveredTtlSeconds: 120 });
    await short.recordDelivered('t-1', 'alice', 3, 'e1');
    const ttl = await client.ttl(`${prefix}thread:{t-1}:delivered`);
    expect(ttl).toBeGreaterThan(100);
    expect(ttl).toBeLessThanOrEqual(120);
  });

  it('resolves threads and runs through a new client after the first one quit', async () => {
    const first = new RedisRegistryStore(clients.create(), prefix);
    await first.claimThread(thread('t-restart', 'alice'));
    await first.putRun('t-restart_run_1756919162904_ab12', 't-restart');
    await first.close();
    await clients.quitAll();

    const second = new RedisRegistryStore(clients.create(), prefix);
    await expect(second.getThread('t-restart')).resolves.toEqual(thread('t-restart', 'alice'));
    await expect(second.getRunThread('t-restart_run_1756919162904_ab12')).resolves.toBe(
      't-restart',
    );
    await expect(second.runsOfThread('t-restart')).resolves.toEqual([
      't-restart_run_1756919162904_ab12',
    ]);
  });

  it('pages a hash too large to be returned whole with HSCAN cursors', async () => {
    // Larger than hash-max-listpack-entries (128 by default), so HSCAN honours COUNT.
    const ids = Array.from({ length: 1_000 }, (_, i) => `t-${i}`);
    await Promise.all(ids.map((id) => store.claimThread(thread(id, 'alice'))));
    const cursors: (string | null)[] = [];
    const { items, pages } = await collectPages(async (cursor, limit) => {
      const page = await store.listThreads(cursor, limit);
      cursors.push(page.nextCursor);
      return page;
    }, 100);
    expect(pages).toBeGreaterThan(1);
    expect(cursors.at(-1)).toBeNull();
    expect(cursors.slice(0, -1).every((c) => c !== null && /^\d+$/.test(c))).toBe(true);
    expect(items.map((r) => r.threadId).sort()).toEqual([...ids].sort());
  });

  it('pages connections bucket by bucket and refuses cursors it did not issue', async () => {
    const ids = Array.from({ length: 300 }, (_, i) => `c-${i}`);
    await Promise.all(
      ids.map((id) =>
        store.putConnection({
          connectionId: id,
          userId: 'alice',
          instanceId: 'i-1',
          transport: 'websocket',
          connectedAt: 1,
          lastSeenAt: 1,
          threads: [],
        }),
      ),
    );
    const cursors: (string | null)[] = [];
    const { items } = await collectPages(async (cursor, limit) => {
      const page = await store.listConnections(cursor, limit);
      cursors.push(page.nextCursor);
      return page;
    }, 40);
    expect(items.map((r) => r.connectionId).sort()).toEqual([...ids].sort());
    expect(cursors.slice(0, -1).every((c) => c !== null && /^\d{1,2}:\d+$/.test(c))).toBe(true);
    for (const bad of ['16:0', '1:abc', ':0', '1:', '0:18446744073709551616', '1:2:3', '١:0']) {
      await expect(store.listConnections(bad, 10)).rejects.toBeInstanceOf(BadRequestError);
    }
  });

  it('leaves the client it was given open on close()', async () => {
    await store.close();
    await expect(client.ping()).resolves.toBe('PONG');
    expect(client.status).toBe('ready');
  });

  it('refuses a key prefix that would break the hash tags', () => {
    expect(() => new RedisRegistryStore(client, 'app:{x}:')).toThrow(InvalidOptionError);
  });
});

describe('RedisRegistryStore scripts', () => {
  let server: OwnRedisServer;
  const clients = new Clients();

  beforeAll(async () => {
    server = await OwnRedisServer.start();
  });

  afterAll(async () => {
    await clients.quitAll();
    await server.dispose();
  });

  it('reloads its Lua scripts after SCRIPT FLUSH (NOSCRIPT)', async () => {
    const client = clients.create(server.url);
    const store = new RedisRegistryStore(client, 'flush:');
    const record = { threadId: 't-1', ownerId: 'alice', createdAt: 1, metadata: {} };
    await expect(store.claimThread(record)).resolves.toEqual({ outcome: 'created', record });
    await client.script('FLUSH');
    await expect(store.claimThread({ ...record, ownerId: 'bob' })).resolves.toEqual({
      outcome: 'existing',
      record,
    });
    await expect(store.recordDelivered('t-1', 'alice', 2, 'e1')).resolves.toBe(2);
    await client.script('FLUSH');
    await expect(store.recordDelivered('t-1', 'alice', 1, 'e1')).resolves.toBe(2);
  });

  it('writes the cursor raises of one turn together, one per (thread, user)', async () => {
    const client = clients.create(server.url);
    const store = new RedisRegistryStore(client, 'batch:');
    await store.recordDelivered('warm-up', 'alice', 1, 'e1');
    await client.config('RESETSTAT');
    const raises: Promise<number>[] = [];
    for (let thread = 0; thread < 10; thread++) {
      for (const seq of [3, 9, 5])
        raises.push(store.recordDelivered(`t-${thread}`, 'alice', seq, 'e1'));
    }
    raises.push(store.recordDelivered('t-0', 'bob', 4, 'e1'));
    // Every caller learns the cursor as stored: the highest seq of its (thread, user).
    expect(await Promise.all(raises)).toEqual([...Array<number>(30).fill(9), 4]);
    const stats = await client.info('commandstats');
    expect(/cmdstat_evalsha:calls=(\d+)/.exec(stats)?.[1]).toBe('11');
  });

  it('replaces a cursor stored before cursors had an epoch', async () => {
    const client = clients.create(server.url);
    const store = new RedisRegistryStore(client, 'legacy:');
    const key = new RedisKeys('legacy:').thread('t-1', 'delivered');
    await client.hset(key, 'alice', '500');
    await expect(store.deliveredCursors('t-1', 'e1')).resolves.toEqual({});
    await expect(store.recordDelivered('t-1', 'alice', 3, 'e1')).resolves.toBe(3);
    await expect(client.hget(key, 'alice')).resolves.toBe('e1:3');
  });

  it('retries the raises of a batch that met NOSCRIPT', async () => {
    const client = clients.create(server.url);
    const store = new RedisRegistryStore(client, 'batch-flush:');
    await store.recordDelivered('t-0', 'alice', 6, 'e1');
    await client.script('FLUSH');
    const raises = [0, 1, 2, 3].map((thread) =>
      store.recordDelivered(`t-${thread}`, 'alice', 5, 'e1'),
    );
    await expect(Promise.all(raises)).resolves.toEqual([6, 5, 5, 5]);
  });
});

describe('RedisKeys', () => {
  it('names every key under the prefix, per-entity keys hash-tagged', () => {
    const keys = new RedisKeys('app:');
    expect(keys.threadRegistry).toBe('app:thread_registry');
    expect(keys.threadLeases('t')).toBe(`app:thread_leases:{${indexBucketOf('t')}}`);
    expect(keys.threadLeasesBucket(15)).toBe('app:thread_leases:{15}');
    expect(keys.run('r')).toBe('app:run:{r}');
    expect(keys.user('u', 'leased')).toBe('app:user:{u}:leased');
    expect(keys.connections('c')).toBe(`app:connections:{${indexBucketOf('c')}}`);
    expect(keys.connectionsBucket(0)).toBe('app:connections:{0}');
    expect(keys.instances).toBe('app:instances');
    expect(keys.thread('t')).toBe('app:thread:{t}');
    expect(keys.thread('t', 'runs')).toBe('app:thread:{t}:runs');
    expect(keys.thread('t', 'conns')).toBe('app:thread:{t}:conns');
    expect(keys.thread('t', 'delivered')).toBe('app:thread:{t}:delivered');
    expect(keys.user('u', 'threads')).toBe('app:user:{u}:threads');
    expect(keys.user('u', 'conns')).toBe('app:user:{u}:conns');
    expect(keys.conn('c')).toBe('app:conn:{c}');
    expect(keys.conn('c', 'threads')).toBe('app:conn:{c}:threads');
    expect(keys.instance('i')).toBe('app:instance:{i}');
    expect(keys.instance('i', 'conns')).toBe('app:instance:{i}:conns');
  });

  it('spreads ids over every bucket of the global indexes, stably', () => {
    const counts = new Array<number>(INDEX_BUCKETS).fill(0);
    for (let i = 0; i < 16_000; i++) {
      const bucket = indexBucketOf(`conn-${i}`);
      counts[bucket] = (counts[bucket] ?? 0) + 1;
    }
    // Each bucket within 15% of an even share: no bucket (and so no slot) takes most of them.
    for (const count of counts) expect(Math.abs(count - 1_000)).toBeLessThan(150);
    // Stored keys are found again by later versions and other processes: the function is fixed.
    expect(['a', 'thread-1', 'ü'].map(indexBucketOf)).toEqual([12, 15, 11]);
  });

  it('defaults to no prefix, so redis-cli HGETALL thread_registry works as is', () => {
    expect(new RedisKeys().threadRegistry).toBe('thread_registry');
  });
});
