import type { Provider } from '@nestjs/common';
import { DeliveryWait } from './delivery-wait.js';
import { ProducerBatch } from './producer-batch.js';
import { ProducerBodyParser } from './producer-body-parser.js';
import { ProducerKeyGuard } from './producer-key.guard.js';
import { ProducerKeys } from './producer-keys.js';
import { ProducerRegistrations } from './producer-registrations.js';
import { producerRequestLimiter } from '../request-limiters.js';

/** What `ProducerController` needs; one entry in the module, so the module file stays small. */
export const producerProviders: Provider[] = [
  ProducerKeys,
  ProducerKeyGuard,
  ProducerBodyParser,
  producerRequestLimiter,
  ProducerRegistrations,
  ProducerBatch,
  DeliveryWait,
];
