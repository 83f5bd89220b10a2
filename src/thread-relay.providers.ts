import type { Provider } from '@nestjs/common';
import { MemoryMessageLog } from './delivery/memory-message-log.js';
import { type MessageLog } from './delivery/message-log.interface.js';
import {
  CLUSTER_BUS,
  MESSAGE_LOG,
  RATE_LIMIT_STORE,
  REGISTRY_STORE,
  RELAY_OPTIONS,
  RELAY_REDIS,
} from './thread-relay.constants.js';
import { type ClusterBus } from './cluster/cluster-bus.js';
import { MemoryClusterBus } from './cluster/memory-cluster-bus.js';
import { errorText, RelayLogger } from './thread-relay.logger.js';
import type { RedisBackend } from './redis/redis-backend.js';
import { MemoryRateLimitStore } from './limits/memory-rate-limit.store.js';
import { type RateLimitStore } from './limits/rate-limit-store.interface.js';
import { MemoryRegistryStore } from './registry/memory-registry.store.js';
import { type RegistryStore } from './registry/registry-store.interface.js';
import { resolveRelayOptions } from './thread-relay.options-resolver.js';
import { THREAD_RELAY_MODULE_OPTIONS } from './thread-relay.module-definition.js';
import {
  type ResolvedRelayOptions,
  type ThreadRelayModuleOptions,
} from './thread-relay.options.js';

export { RELAY_REDIS } from './thread-relay.constants.js';

/**
 * The one place that chooses memory or Redis. Redis code is imported lazily, so an app
 * without the `redis` option never loads ioredis.
 */
export const relayProviders: Provider[] = [
  {
    provide: RELAY_OPTIONS,
    useFactory: (raw: ThreadRelayModuleOptions) => resolveRelayOptions(raw),
    inject: [THREAD_RELAY_MODULE_OPTIONS],
  },
  {
    provide: RELAY_REDIS,
    useFactory: async (options: ResolvedRelayOptions): Promise<RedisBackend | null> => {
      if (options.redis.kind === 'none') return null;
      const { RedisBackend } = await import('./redis/redis-backend.js');
      return RedisBackend.create(options);
    },
    inject: [RELAY_OPTIONS],
  },
  {
    provide: MESSAGE_LOG,
    useFactory: (redis: RedisBackend | null, options: ResolvedRelayOptions): MessageLog =>
      redis ? redis.messageLog : new MemoryMessageLog(options.history),
    inject: [RELAY_REDIS, RELAY_OPTIONS],
  },
  {
    provide: REGISTRY_STORE,
    useFactory: (redis: RedisBackend | null, log: MessageLog): RegistryStore =>
      redis
        ? redis.registryStore
        : // A new thread never inherits the log of an earlier thread under its id.
          new MemoryRegistryStore({ onThreadCreated: (threadId) => void log.drop(threadId) }),
    inject: [RELAY_REDIS, MESSAGE_LOG],
  },
  {
    provide: RATE_LIMIT_STORE,
    useFactory: (redis: RedisBackend | null): RateLimitStore =>
      redis ? redis.rateLimitStore : new MemoryRateLimitStore(),
    inject: [RELAY_REDIS],
  },
  {
    provide: CLUSTER_BUS,
    useFactory: (redis: RedisBackend | null, options: ResolvedRelayOptions): ClusterBus => {
      if (redis) return redis.bus;
      const log = RelayLogger.for('ClusterBus', options);
      return new MemoryClusterBus((kind, error) =>
        log.error({ msg: 'cluster bus listener failed', kind, reason: errorText(error) }),
      );
    },
    inject: [RELAY_REDIS, RELAY_OPTIONS],
  },
];
