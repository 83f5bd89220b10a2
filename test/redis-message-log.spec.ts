import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { NewEvent } from '../src/delivery/message-log.interface.js';
import { RedisKeys } from '../src/redis/redis-keys.js';
import { RedisMessageLog } from '../src/redis/redis-message-log.js';
import { ReplicaAcks } from '../src/redis/replica-acks.js';
import { InvalidOptionError } from '../src/errors/invalid-option.error.js';
import { RelayUnavailableError } from '../src/errors/relay-unavailable.error.js';
import { describeMessageLog } from './contracts/message-log.contract.js';
import { testRedisUrl, uniquePrefix } from './support/redis.js';

const prefix = uniquePrefix('message-log');
const clients: Redis[] = [];

function newClient(): Redis {
  const client = new Redis(testRedisUrl(), { maxRetriesPerRequest: 2 });
  clients.push(client);
  return client;
}

async function keysWithPrefix(client: Redis, match: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${match}*`, 'COUNT', 500);
    found.push(...keys);
    cursor = next;
  } while (cursor !== '0');
  return found.sort();
}

function newEvent(threadId: string, payload: number): NewEvent {
  return { id: randomUUID(), threadId, type: 'agent_thinking', payload, ts: Date.now() };
}

let shared: Redis;

beforeAll(() => {
  shared = newClient();
});

afterAll(async () => {
  const keys = await keysWithPrefix(shared, prefix);
  if (keys.length > 0) await shared.unlink(...keys);
  await Promise.all(clients.map((client) => client.quit()));
});

describeMessageLog('RedisMessageLog', (retention) =>
  Promise.resolve({
    log: new RedisMessageLog(shared, retention, prefix),
    // Redis expires keys on its own clock; the contract polls instead.
    advance: () => undefined,
  }),
);

describe('RedisMessageLog on Redis', () => {
  it('refuses an append no replica confirmed (delivery.replicaAcks), keeping it for a retry with its key', async () => {
    // The shared test Redis has no replicas: WAIT 1 answers 0 when its timeout ends.
    const waiting = new RedisMessageLog(
      shared,
      { ttlSeconds: 600, maxPerThread: 100 },
      prefix,
      undefined,
      65_536,
      undefined,
      new ReplicaAcks({ replicas: 1, timeoutMs: 50, client: newClient() }),
    );
    const threadId = `replicas-${randomUUID()}`;
    const append = () => waiting.append(newEvent(threadId, 1), { idempotencyKey: 'k' });
    await expect(append()).rejects.toThrow(RelayUnavailableError);
    await expect(append()).rejects.toThrow(/0 of 1 replicas confirmed it within 50 ms/);
    // Stored once: the refusal said "not confirmed", not "not stored".
    await expect(waiting.state(threadId)).resolves.toMatchObject({ headSeq: 1, firstSeq: 1 });
    const plain = new RedisMessageLog(shared, { ttlSeconds: 600, maxPerThread: 100 }, prefix);
    await expect(
      plain.append(newEvent(threadId, 2), { idempotencyKey: 'k' }),
    ).resolves.toMatchObject({ appended: false, event: { seq: 1 } });
  });

  it('counts the members of the set it was given in the append itself, duplicates too', async () => {
    const retention = { ttlSeconds: 600, maxPerThread: 100 };
    const countedSet = (threadId: string) => `${prefix}counted:{${threadId}}`;
    const counting = new RedisMessageLog(shared, retention, prefix, countedSet);
    const threadId = `count-${randomUUID()}`;
    const event = { threadId, type: 'agent_thinking', payload: 1, ts: 1 };
    const first = await counting.append({ ...event, id: randomUUID() });
    expect(first).toMatchObject({ appended: true, countedMembers: 0 });
    await shared.sadd(countedSet(threadId), 'conn-1', 'conn-2');
    const second = await counting.append({ ...event, id: randomUUID() }, { idempotencyKey: 'k' });
    expect(second).toMatchObject({ appended: true, countedMembers: 2 });
    const again = await counting.append({ ...event, id: randomUUID() }, { idempotencyKey: 'k' });
    expect(again).toMatchObject({ appended: false, countedMembers: 2 });
    expect(again.event.seq).toBe(second.event.seq);
    // A log given no set counts nothing, and leaves the count to its caller.
    const plain = new RedisMessageLog(shared, retention, prefix);
    const uncounted = await plain.append({ ...event, id: randomUUID() });
    expect(uncounted.appended).toBe(true);
    expect(uncounted.countedMembers).toBeUndefined();
  });

  it('assigns 1..2000 exactly once when two instances append 1,000 each concurrently', async () => {
    const retention = { ttlSeconds: 600, maxPerThread: 5_000 };
    const first = new RedisMessageLog(newClient(), retention, prefix);
    const second = new RedisMessageLog(newClient(), retention, prefix);
    const threadId = `race-${randomUUID()}`;

    const burst = (log: RedisMessageLog, offset: number) =>
      Array.from({ length: 1_000 }, (_, i) => log.append(newEvent(threadId, offset + i)));
    const results = await Promise.all([...burst(first, 0), ...burst(second, 1_000)]);

    const seqs = results.map((r) => r.event.seq).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: 2_000 }, (_, i) => i + 1));
    expect(new Set(results.map((r) => r.event.epoch)).size).toBe(1);

    const slice = await second.read(threadId, 0, 2_000);
    expect(slice).toMatchObject({ headSeq: 2_000, firstSeq: 1 });
    expect(slice.events.map((e) => e.seq)).toEqual(seqs);
    const seqById = new Map(results.map((r) => [r.event.id, r.event.seq]));
    expect(slice.events.every((e) => seqById.get(e.id) === e.seq)).toBe(true);
    await Promise.all([first.close(), second.close()]);
  });

  it('keeps a thread in three keys hash-tagged by the thread id, each with the TTL', async () => {
    const keyPrefix = uniquePrefix('message-log-keys');
    const log = new RedisMessageLog(shared, { ttlSeconds: 120, maxPerThread: 10 }, keyPrefix);
    const threadId = `tagged-${randomUUID()}`;
    await log.append(newEvent(threadId, 1), { idempotencyKey: 'k' });

    const keys = new RedisKeys(keyPrefix);
    const stored = await keysWithPrefix(shared, keyPrefix);
    expect(stored).toEqual([
      keys.thread(threadId, 'idem'),
      keys.thread(threadId, 'log'),
      keys.thread(threadId, 'meta'),
    ]);
    for (const key of stored) {
      expect(key).toContain(`{${threadId}}`);
      const ttl = await shared.pttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(120_000);
    }
    expect(await shared.type(keys.thread(threadId, 'meta'))).toBe('hash');
    expect(await shared.type(keys.thread(threadId, 'log'))).toBe('stream');
    expect(await shared.type(keys.thread(threadId, 'idem'))).toBe('hash');
    expect(await shared.hget(keys.thread(threadId, 'meta'), 'head')).toBe('1');

    await log.drop(threadId);
    expect(await keysWithPrefix(shared, keyPrefix)).toEqual([]);
  });

  it('gives the meta hash of an ensured log the TTL', async () => {
    const keyPrefix = uniquePrefix('message-log-ensure');
    const log = new RedisMessageLog(shared, { ttlSeconds: 90, maxPerThread: 10 }, keyPrefix);
    const threadId = `ensured-${randomUUID()}`;
    await log.ensure(threadId);
    const ttl = await shared.pttl(new RedisKeys(keyPrefix).thread(threadId, 'meta'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(90_000);
    await log.drop(threadId);
  });

  it('starts clean when the meta hash is gone but an old stream is left', async () => {
    const log = new RedisMessageLog(shared, { ttlSeconds: 600, maxPerThread: 10 }, prefix);
    const threadId = `orphan-${randomUUID()}`;
    const keys = new RedisKeys(prefix);
    await log.append(newEvent(threadId, 1), { idempotencyKey: 'k' });
    await log.append(newEvent(threadId, 2));
    await shared.del(keys.thread(threadId, 'meta'));

    const next = await log.append(newEvent(threadId, 3), { idempotencyKey: 'k' });
    expect(next.appended).toBe(true);
    expect(next.event.seq).toBe(1);
    expect((await log.read(threadId, 0, 10)).events).toStrictEqual([next.event]);
  });

  it('leaves the caller’s client open on close()', async () => {
    const client = newClient();
    const log = new RedisMessageLog(client, { ttlSeconds: 60, maxPerThread: 10 }, prefix);
    await log.close();
    expect(await client.ping()).toBe('PONG');
  });

  it('refuses a key prefix with braces', () => {
    expect(
      () => new RedisMessageLog(shared, { ttlSeconds: 60, maxPerThread: 10 }, 'a{b}:'),
    ).toThrow(InvalidOptionError);
  });
});
