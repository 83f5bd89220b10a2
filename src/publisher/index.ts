/**
 * `thread-relay/publisher`: produce events from any Node process that can reach the
 * gateway instances' Redis (a worker, a job queue consumer, a script), without a Nest app
 * or socket.io server of your own.
 *
 *   const publisher = createPublisher({ redis: process.env.REDIS_URL, keyPrefix: 'relay:' });
 *   await publisher.registerThread('thread-1', 'user-1');
 *   const receipt = await publisher.sendToThread('thread-1', 'agent_started', {}, { idempotencyKey: 'run-7:0' });
 *   await publisher.waitForDelivery('thread-1', receipt.seq, 10_000);
 *   await publisher.close();
 */
import 'reflect-metadata';
export { createPublisher, type Publisher, type PublisherOptions } from './create-publisher.js';
export type {
  DeliveryReceipt,
  SendOptions,
  UserDeliveryReceipt,
} from '../delivery/delivery.types.js';
export type { ThreadMetadata, ThreadRecord } from '../thread-record.js';
