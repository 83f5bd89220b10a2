/**
 * The producer in a process of its own, as a worker or an API process that hosts no
 * socket.io server would be, forked by the orchestrator for the external-producer
 * scenarios (bench/external-producer.ts):
 * - `relay`: thread-relay's publisher (`createPublisher` from src/publisher), on the
 *   servers' Redis and keyPrefix;
 * - `plain`: `@socket.io/redis-emitter` on the key of the servers' `@socket.io/redis-adapter`.
 */
import { Redis } from 'ioredis';
import { Emitter } from '@socket.io/redis-emitter';
import { burst, produce, type Send } from './produce.js';
import { serveRpc } from './rpc.js';
import {
  benchPayload,
  EVENT_TYPE,
  plainEvents,
  type BurstRequest,
  type CpuSample,
  type ProduceRequest,
} from './common.js';

export interface ProducerStart {
  kind: 'plain' | 'relay';
  redisUrl: string;
  /** The servers' keyPrefix: thread-relay's `keyPrefix`; the adapter's key is `<keyPrefix>socket.io`. */
  keyPrefix: string;
}

interface Producer {
  send: Send;
  /** Registers threads to their owners before anyone joins them (thread-relay). */
  register(threads: Array<[threadId: string, ownerId: string]>): Promise<void>;
  /** Resolves once everything handed over has reached Redis. */
  settle(): Promise<void>;
  close(): Promise<void>;
}

let producer: Producer | null = null;

function startPlain(request: ProducerStart): Producer {
  const redis = new Redis(request.redisUrl);
  // The adapter's default `key` is 'socket.io'; the bench servers prepend their keyPrefix.
  const emitter = new Emitter(redis, { key: `${request.keyPrefix}socket.io` });
  const nextEvent = plainEvents();
  return {
    send(threadId, step, measured) {
      emitter.to(`thread:${threadId}`).emit('thread:event', nextEvent(threadId, step, measured));
    },
    register: async () => {},
    settle: async () => {
      await redis.ping();
    },
    close: async () => {
      await redis.quit();
    },
  };
}

async function startRelay(request: ProducerStart): Promise<Producer> {
  // Loaded here only: the plain producer does not need the project built.
  const { createPublisher } = await import('../src/publisher/index.js');
  const publisher = createPublisher({ redis: request.redisUrl, keyPrefix: request.keyPrefix });
  return {
    send: (threadId, step, measured) =>
      publisher.sendToThread(threadId, EVENT_TYPE, benchPayload(step, measured)),
    register: async (threads) => {
      let next = 0;
      const worker = async () => {
        while (next < threads.length) {
          const [threadId, ownerId] = threads[next++] as [string, string];
          await publisher.registerThread(threadId, ownerId);
        }
      };
      await Promise.all(Array.from({ length: 32 }, worker));
    },
    // `produce` resolves once every send has its receipt: nothing is left in flight.
    settle: async () => {},
    close: () => publisher.close(),
  };
}

function current(): Producer {
  if (!producer) throw new Error('producer not started');
  return producer;
}

serveRpc({
  start: async (request: ProducerStart) => {
    producer = request.kind === 'relay' ? await startRelay(request) : startPlain(request);
  },
  register: (args: { threads: Array<[string, string]> }) => current().register(args.threads),
  produce: (request: ProduceRequest) => produce(current().send, request),
  burst: (request: BurstRequest) => burst(current().send, request),
  settle: () => current().settle(),
  cpu: (): CpuSample => {
    const usage = process.cpuUsage();
    return { cpuMicros: usage.user + usage.system, at: performance.now() };
  },
  stop: async () => {
    await producer?.close().catch(() => undefined);
    producer = null;
    setTimeout(() => process.exit(0), 50);
  },
});
