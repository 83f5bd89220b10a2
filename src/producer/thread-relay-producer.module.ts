import { Module, type DynamicModule } from '@nestjs/common';
import { DeliveryAcks } from '../delivery/delivery-acks.service.js';
import { DeliveryService } from '../delivery/delivery.service.js';
import { LiveThreadEvents } from '../delivery/live-thread-events.service.js';
import { RelayMetrics } from '../observability/relay-metrics.service.js';
import { ThreadAccessChanges } from '../registry/thread-access-changes.js';
import { ThreadRegistryService } from '../registry/thread-registry.service.js';
import { LocalSockets } from '../sockets/local-sockets.js';
import { THREAD_RELAY_MODULE_OPTIONS } from '../thread-relay.module-definition.js';
import { RELAY_OPTIONS } from '../thread-relay.constants.js';
import { relayProviders } from '../thread-relay.providers.js';
import { ProducerLifecycle } from './producer-lifecycle.js';
import { producerModuleOptions, type ThreadRelayProducerOptions } from './producer-options.js';

/**
 * `ThreadRelayModule.forProducer({ redis })`: `DeliveryService` and
 * `ThreadRegistryService` for a Nest worker that runs agents but serves no sockets. The
 * services are the gateway's own, so receipts, idempotency and errors are the same; the
 * events reach the connections through Redis, whichever instance hosts them.
 */
@Module({})
export class ThreadRelayProducerModule {
  static register(options: ThreadRelayProducerOptions, global = true): DynamicModule {
    return {
      module: ThreadRelayProducerModule,
      global,
      providers: [
        { provide: THREAD_RELAY_MODULE_OPTIONS, useFactory: () => producerModuleOptions(options) },
        ...relayProviders,
        RelayMetrics,
        LocalSockets,
        ThreadAccessChanges,
        ThreadRegistryService,
        LiveThreadEvents,
        DeliveryAcks,
        DeliveryService,
        ProducerLifecycle,
      ],
      exports: [RELAY_OPTIONS, ThreadRegistryService, DeliveryService, RelayMetrics],
    };
  }
}
