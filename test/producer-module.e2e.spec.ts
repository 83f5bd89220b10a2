import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { Redis } from 'ioredis';
import {
  DeliveryService,
  ThreadRegistryService,
  ThreadRelayModule,
  type ThreadEvent,
} from '../src/index.js';
import { createPublisher } from '../src/publisher/index.js';
import { testRedisUrl, uniquePrefix } from './support/redis.js';
import { connectSocket } from './support/relay-app.js';
import { useRelayApp } from './support/use-relay-app.js';
import { waitUntil } from './support/wait-until.js';

/** Stands for an application's agent runner in a Nest worker without a gateway. */
@Injectable()
class AgentRunner {
  constructor(
    readonly delivery: DeliveryService,
    readonly registry: ThreadRegistryService,
  ) {}
}

describe('ThreadRelayModule.forProducer in a Nest worker', () => {
  const keyPrefix = uniquePrefix('producer-module');

  const gateway = useRelayApp(() => ({
    redis: testRedisUrl(),
    keyPrefix,
    instanceId: 'pm-gateway',
  }));

  it('provides DeliveryService and ThreadRegistryService with no gateway and no routes', async () => {
    @Module({
      imports: [ThreadRelayModule.forProducer({ redis: testRedisUrl(), keyPrefix })],
      providers: [AgentRunner],
    })
    class WorkerModule {}
    const worker = await NestFactory.createApplicationContext(WorkerModule, { logger: ['error'] });
    const socket = await connectSocket(gateway.url, await gateway.token('wendy'));
    try {
      const runner = worker.get(AgentRunner);
      await runner.registry.registerThread('pm-thread', 'wendy');
      const events: ThreadEvent[] = [];
      socket.on('thread:event', (event: ThreadEvent) => events.push(event));
      expect(await socket.emitWithAck('thread:join', { threadId: 'pm-thread' })).toMatchObject({
        ok: true,
      });
      const first = await runner.delivery.sendToThread('pm-thread', 'agent_started', {});
      const second = await runner.delivery.sendToThread('pm-thread', 'agent_completed', {});
      expect([first.seq, second.seq]).toEqual([1, 2]);
      expect(first.onlineConnections).toBe(1);
      await waitUntil(() => events.length === 2, 'both events on the gateway’s client');
      expect(events.map((e) => e.type)).toEqual(['agent_started', 'agent_completed']);
      const delivered = runner.delivery.waitForDelivery('pm-thread', 2, 10_000);
      socket.emit('thread:ack', { threadId: 'pm-thread', seq: 2 });
      await expect(delivered).resolves.toBe(2);
    } finally {
      socket.close();
      await worker.close();
    }
  });

  it('refuses to start without Redis, naming the option', async () => {
    await expect(
      Test.createTestingModule({
        imports: [ThreadRelayModule.forProducer({} as never)],
      }).compile(),
    ).rejects.toThrow(/redis.*required for a producer/);
    expect(() => createPublisher({} as never)).toThrow(/redis.*required for a producer/);
  });

  it('leaves an ioredis client passed to the publisher open when it closes', async () => {
    const client = new Redis(testRedisUrl());
    try {
      const publisher = createPublisher({ redis: client, keyPrefix });
      await publisher.registerThread('pm-own-client', 'olga');
      const receipt = await publisher.sendToThread('pm-own-client', 'ping', {});
      expect(receipt).toMatchObject({ threadId: 'pm-own-client', seq: 1, duplicate: false });
      await publisher.close();
      expect(await client.ping()).toBe('PONG');
      await expect(publisher.sendToThread('pm-own-client', 'ping', {})).rejects.toThrow(
        'this publisher is closed',
      );
    } finally {
      client.disconnect();
    }
  });
});
