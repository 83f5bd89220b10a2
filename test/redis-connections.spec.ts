import { once } from 'node:events';
import { Redis } from 'ioredis';
import { RedisConnections } from '../src/redis/redis-connections.js';
import { testRedisUrl, uniquePrefix } from './support/redis.js';
import { waitUntil } from './support/wait-until.js';

/**
 * The socket.io adapter subscribes on `sub` as soon as the server exists, which can be while
 * that connection is still in its handshake. With ioredis's ready check on, a SUBSCRIBE at
 * that moment made the connection fail its own INFO and come back unsubscribed: the instance
 * never heard another instance's events (found by the disconnect-storm chaos test).
 */
describe('RedisConnections: the subscriber connection', () => {
  const opened: Array<{ close(): Promise<void> | void }> = [];
  afterEach(async () => {
    for (const item of opened.splice(0).reverse()) await item.close();
  });

  it.each([
    ['a URL', () => RedisConnections.create({ kind: 'url', url: testRedisUrl() })],
    [
      'a client of the application',
      () => {
        const client = new Redis(testRedisUrl());
        opened.push({ close: () => client.disconnect() });
        return RedisConnections.create({ kind: 'client', client });
      },
    ],
  ])('keeps a subscription made during its handshake (from %s)', async (_, create) => {
    const connections = create();
    opened.push(connections);
    const errors: string[] = [];
    connections.subscriber.on('error', (error: Error) => errors.push(error.message));
    let reconnects = 0;
    connections.subscriber.on('reconnecting', () => (reconnects += 1));
    // `connect`: the socket is open, the handshake (and any ready check) not done yet.
    await once(connections.subscriber, 'connect');
    const channel = `${uniquePrefix('sub-handshake')}channel`;
    const received: string[] = [];
    connections.subscriber.on('message', (_channel: string, message: string) =>
      received.push(message),
    );
    await connections.subscriber.subscribe(channel);

    await waitUntil(async () => {
      await connections.commands.publish(channel, 'hello');
      return received.length > 0;
    }, 'a message on the subscribed channel');
    expect(received[0]).toBe('hello');
    // It ends up ready on that same connection (it never had to reconnect to get there).
    await waitUntil(() => connections.subscriber.status === 'ready', 'the subscriber to be ready');
    expect(reconnects).toBe(0);
    expect(errors).toEqual([]);
  });
});
