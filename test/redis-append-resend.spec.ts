/**
 * ioredis resends the commands it had written but got no reply for when a connection
 * drops (`autoResendUnfulfilledCommands`, on by default). For an append whose reply was
 * lost after Redis ran it, that is a second execution of the same append: without a
 * guard, one send would be stored twice, under two seqs, and the application would get the
 * same event twice. Found by test/chaos/redis-restart (a Redis killed mid-append).
 */
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { Redis } from 'ioredis';
import type { NewEvent } from '../src/delivery/message-log.interface.js';
import { RedisKeys } from '../src/redis/redis-keys.js';
import { RedisMessageLog } from '../src/redis/redis-message-log.js';
import { testRedisUrl, uniquePrefix } from './support/redis.js';

/**
 * Between a client and Redis: passes everything, except that once `loseNextReply` is set
 * the next bytes Redis sends back are swallowed and the connection is cut, so the
 * command ran but its caller never heard.
 */
class ReplyLosingProxy {
  loseNextReply = false;
  lost = 0;
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    private readonly server: net.Server,
    private readonly upstream: { host: string; port: number },
  ) {
    server.on('connection', (client) => this.accept(client));
  }

  static async start(redisUrl: string): Promise<ReplyLosingProxy> {
    const { hostname, port } = new URL(redisUrl);
    const proxy = new ReplyLosingProxy(net.createServer(), {
      host: hostname || '127.0.0.1',
      port: Number(port || 6379),
    });
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get url(): string {
    return `redis://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    const redis = net.connect(this.upstream);
    for (const socket of [client, redis]) {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => socket.destroy());
    }
    client.on('close', () => redis.destroy());
    redis.on('close', () => client.destroy());
    client.pipe(redis);
    redis.on('data', (chunk: Buffer) => {
      if (this.loseNextReply) {
        this.loseNextReply = false;
        this.lost += 1;
        client.destroy();
        redis.destroy();
        return;
      }
      client.write(chunk);
    });
  }
}

function newEvent(threadId: string, payload: number): NewEvent {
  return { id: randomUUID(), threadId, type: 'agent_thinking', payload, ts: Date.now() };
}

describe('RedisMessageLog when the reply to an append is lost and ioredis resends it', () => {
  let proxy: ReplyLosingProxy;
  let client: Redis;
  let direct: Redis;
  const prefix = uniquePrefix('append-resend');

  beforeAll(async () => {
    proxy = await ReplyLosingProxy.start(testRedisUrl());
    client = new Redis(proxy.url, { retryStrategy: () => 20 });
    direct = new Redis(testRedisUrl());
    await client.ping();
  });
  afterAll(async () => {
    client.disconnect();
    await proxy.close();
    await direct.quit();
  });

  it.each([
    ['without an idempotency key', undefined],
    ['with an idempotency key', 'producer-key'],
  ])('stores the event once (%s)', async (_, idempotencyKey) => {
    const log = new RedisMessageLog(client, { ttlSeconds: 60, maxPerThread: 100 }, prefix);
    const threadId = `resend-${randomUUID()}`;
    const options = idempotencyKey === undefined ? {} : { idempotencyKey };
    await log.append(newEvent(threadId, 1));

    const event = newEvent(threadId, 2);
    const lostBefore = proxy.lost;
    proxy.loseNextReply = true;
    const result = await log.append(event, options);
    // The reply really was lost: the answer came from the resend.
    expect(proxy.lost).toBe(lostBefore + 1);

    const entries = await direct.xrange(new RedisKeys(prefix).thread(threadId, 'log'), '-', '+');
    const ids = entries.map(([, fields]) => (JSON.parse(fields[1]!) as { id: string }).id);
    expect(ids.filter((id) => id === event.id)).toHaveLength(1);
    expect(entries).toHaveLength(2);
    expect(result.event).toMatchObject({ id: event.id, seq: 2 });
    // It is this call's own append, not an earlier send's: the caller must fan it out (and a
    // user message must reach its handler), so it is reported as appended.
    expect(result.appended).toBe(true);
    expect((await log.read(threadId, 0, 10)).headSeq).toBe(2);
  });
});
