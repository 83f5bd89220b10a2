import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type {
  DeliveryReceipt,
  SendOptions,
  UserDeliveryReceipt,
} from '../delivery/delivery.types.js';
import { DeliveryService } from '../delivery/delivery.service.js';
import { ThreadRelayProducerModule } from '../producer/thread-relay-producer.module.js';
import {
  producerModuleOptions,
  type ThreadRelayProducerOptions,
} from '../producer/producer-options.js';
import type { ThreadMetadata, ThreadRecord } from '../thread-record.js';
import { ThreadRegistryService } from '../registry/thread-registry.service.js';

export type PublisherOptions = ThreadRelayProducerOptions;

/** The producer API of `DeliveryService` and `ThreadRegistryService`, same receipts and errors. */
export interface Publisher {
  registerThread(
    threadId: string,
    ownerId: string,
    metadata?: ThreadMetadata,
  ): Promise<ThreadRecord>;
  registerRun(runId: string, threadId: string): Promise<void>;
  sendToThread(
    threadOrRunId: string,
    type: string,
    payload: unknown,
    options?: SendOptions,
  ): Promise<DeliveryReceipt>;
  sendToUser(userId: string, type: string, payload: unknown): Promise<UserDeliveryReceipt>;
  waitForDelivery(
    threadOrRunId: string,
    seq: number,
    timeoutMs: number,
    userId?: string,
  ): Promise<number>;
  /** Sends what is queued, then closes the Redis clients it created (not one passed in). */
  close(): Promise<void>;
}

interface Services {
  context: INestApplicationContext;
  registry: ThreadRegistryService;
  delivery: DeliveryService;
}

/**
 * A publisher over the producer module, in a Nest application context of its own that
 * the caller never sees. Usable at once: calls wait for it to be ready. Bad options throw
 * here, synchronously, naming the option.
 */
export function createPublisher(options: PublisherOptions): Publisher {
  producerModuleOptions(options);
  const started: Promise<Services> = NestFactory.createApplicationContext(
    ThreadRelayProducerModule.register(options, false),
    { logger: ['error', 'warn'], abortOnError: false },
  ).then((context) => ({
    context,
    registry: context.get(ThreadRegistryService),
    delivery: context.get(DeliveryService),
  }));
  // Reported by the first call that needs it.
  started.catch(() => undefined);
  let closed: Promise<void> | null = null;
  const ready = async (): Promise<Services> => {
    if (closed) throw new Error('this publisher is closed');
    return started;
  };
  return {
    registerThread: async (threadId, ownerId, metadata) =>
      (await ready()).registry.registerThread(threadId, ownerId, metadata),
    registerRun: async (runId, threadId) => (await ready()).registry.registerRun(runId, threadId),
    sendToThread: async (id, type, payload, sendOptions) =>
      (await ready()).delivery.sendToThread(id, type, payload, sendOptions),
    sendToUser: async (userId, type, payload) =>
      (await ready()).delivery.sendToUser(userId, type, payload),
    waitForDelivery: async (id, seq, timeoutMs, userId) =>
      (await ready()).delivery.waitForDelivery(id, seq, timeoutMs, userId),
    close: () => {
      closed ??= started.then(
        ({ context }) => context.close(),
        () => undefined,
      );
      return closed;
    },
  };
}
