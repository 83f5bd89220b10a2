import { Module, type DynamicModule } from '@nestjs/common';
import { ThreadRelayProducerModule } from './producer/thread-relay-producer.module.js';
import type { ThreadRelayProducerOptions } from './producer/producer-options.js';
import { AdminTokenGuard } from './http/admin-token.guard.js';
import { BodyParserErrors } from './http/body-parser-errors.js';
import { producerProviders } from './http/producer/producer.providers.js';
import { HttpUserAuthService } from './http/http-user-auth.service.js';
import { userRequestLimiter } from './http/request-limiters.js';
import { UserReadBudget } from './limits/user-read-budget.js';
import { WebSocketManager } from './compat/websocket-manager.js';
import { DeliveryService } from './delivery/delivery.service.js';
import { DeliveryAcks } from './delivery/delivery-acks.service.js';
import { LiveThreadEvents } from './delivery/live-thread-events.service.js';
import { LiveUserEvents } from './delivery/live-user-events.service.js';
import { LocalSockets } from './sockets/local-sockets.js';
import { UserMessageRateLimiter } from './delivery/user-message-rate-limiter.js';
import { UserMessageService } from './delivery/user-message.service.js';
import { RelayConnectionHandler } from './gateway/relay-connection.handler.js';
import { RelayGateway } from './gateway/relay.gateway.js';
import { ThreadMembership } from './gateway/thread-membership.js';
import { RedisHealthService } from './redis/redis-health.service.js';
import { RelayMetrics } from './observability/relay-metrics.service.js';
import { InstanceLivenessService } from './registry/instance-liveness.service.js';
import { ThreadRegistryService } from './registry/thread-registry.service.js';
import { ThreadRelayLifecycle } from './thread-relay.lifecycle.js';
import { ThreadRelayConfigurableModule } from './thread-relay.module-definition.js';
import { RELAY_OPTIONS } from './thread-relay.constants.js';
import { ThreadAccessChanges } from './registry/thread-access-changes.js';
import { ThreadAdmissionService } from './registry/thread-admission.service.js';
import { relayProviders } from './thread-relay.providers.js';
import { SseStreams } from './sse/sse-streams.service.js';
import { StreamTickets } from './sse/stream-tickets.js';

/**
 * ThreadRelayModule.forRoot({ authenticate, redis?, history?, gateway?, debug?, routes? })
 * ThreadRelayModule.forRootAsync({ useFactory, inject, imports })
 * ThreadRelayModule.forProducer({ redis, keyPrefix? })   (workers: no gateway, no routes)
 *
 * Then, once per app: app.useWebSocketAdapter(new RelayIoAdapter(app)).
 */
/** Controllers come from the `routes` extra (see `relayRouteParts`), all of them by default. */
@Module({
  providers: [
    BodyParserErrors,
    ...producerProviders,
    HttpUserAuthService,
    userRequestLimiter,
    UserReadBudget,
    AdminTokenGuard,
    RelayMetrics,
    ...relayProviders,
    ThreadAccessChanges,
    ThreadRegistryService,
    ThreadAdmissionService,
    InstanceLivenessService,
    LocalSockets,
    LiveThreadEvents,
    LiveUserEvents,
    DeliveryAcks,
    RedisHealthService,
    DeliveryService,
    UserMessageRateLimiter,
    UserMessageService,
    WebSocketManager,
    ThreadMembership,
    RelayConnectionHandler,
    RelayGateway,
    ThreadRelayLifecycle,
    StreamTickets,
    SseStreams,
  ],
  exports: [
    RELAY_OPTIONS,
    ThreadRegistryService,
    DeliveryService,
    UserMessageService,
    WebSocketManager,
    RelayMetrics,
    RedisHealthService,
  ],
})
export class ThreadRelayModule extends ThreadRelayConfigurableModule {
  /**
   * For a Nest worker that produces events but serves no sockets: `DeliveryService` and
   * `ThreadRegistryService` over the same Redis as the gateway instances (global).
   */
  static forProducer(options: ThreadRelayProducerOptions): DynamicModule {
    return ThreadRelayProducerModule.register(options);
  }
}
