import { RedisClusterBus } from './redis-cluster-bus.js';
import { RedisMessageLog } from './redis-message-log.js';
import { RedisRateLimitStore } from './redis-rate-limit.store.js';
import { RedisKeys } from './redis-keys.js';
import { RedisRegistryStore } from './redis-registry.store.js';
import { errorText, RelayLogger } from '../thread-relay.logger.js';
import type { ResolvedRelayOptions } from '../thread-relay.options.js';
import { publishCommandOf } from './redis-client.js';
import { ReplicaAcks } from './replica-acks.js';
import { RedisTicketStore } from './redis-ticket-store.js';
import { RedisConnections } from './redis-connections.js';

/** Everything that exists only in Redis mode; loaded with a dynamic import. */
export class RedisBackend {
  private constructor(
    readonly connections: RedisConnections,
    readonly registryStore: RedisRegistryStore,
    readonly messageLog: RedisMessageLog,
    readonly rateLimitStore: RedisRateLimitStore,
    readonly tickets: RedisTicketStore,
    readonly bus: RedisClusterBus,
  ) {}

  static create(options: ResolvedRelayOptions): RedisBackend {
    if (options.redis.kind === 'none') throw new Error('RedisBackend needs a redis option');
    const connections = RedisConnections.create(options.redis, {
      confirmed: options.delivery.replicaAcks > 0,
    });
    const log = RelayLogger.for('RedisBackend', options);
    for (const [role, client] of Object.entries({
      commands: connections.commands,
      subscriber: connections.subscriber,
      ...(connections.confirmed ? { confirmed: connections.confirmed } : {}),
    })) {
      // Without a listener ioredis prints every connection error to stderr itself.
      client.on('error', (error: Error) =>
        log.debug({ msg: 'redis client error', role, reason: error.message }),
      );
    }
    const keys = new RedisKeys(options.keyPrefix);
    // Plain channels on one Redis; sharded ones (the thread's slot) on Redis Cluster.
    const command = publishCommandOf(connections.commands);
    return new RedisBackend(
      connections,
      new RedisRegistryStore(connections.commands, options.keyPrefix, {
        deliveredTtlSeconds: options.history.ttlSeconds,
        // A new thread never inherits the log of an earlier thread under its id.
        threadDataKeys: (threadId) => keys.threadLogKeys(threadId),
        announceCursors: {
          channelOf: (threadId) => keys.thread(threadId, 'acks'),
          command,
        },
      }),
      // Each append also counts the connections joined to its thread (same hash tag), and
      // announces the event on the thread's channel in the same step.
      new RedisMessageLog(
        connections.commands,
        options.history,
        options.keyPrefix,
        (threadId) => keys.thread(threadId, 'conns'),
        options.delivery.maxEventBytes,
        { channelOf: (threadId) => keys.thread(threadId, 'live'), command },
        connections.confirmed
          ? new ReplicaAcks({
              replicas: options.delivery.replicaAcks,
              // Half the send's bound, so WAIT answers before the send is refused for silence.
              timeoutMs: Math.max(1, Math.floor(options.delivery.unavailableTimeoutMs / 2)),
              client: connections.confirmed,
            })
          : null,
      ),
      new RedisRateLimitStore(connections.commands, keys),
      new RedisTicketStore(connections.commands, keys),
      new RedisClusterBus(connections.commands, connections.subscriber, keys, (kind, error) =>
        log.warn({ msg: 'cluster bus message dropped', kind, reason: errorText(error) }),
      ),
    );
  }

  async close(): Promise<void> {
    await this.bus.close();
    await this.connections.close();
  }
}
