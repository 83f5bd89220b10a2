import { createAdapter } from '@socket.io/redis-adapter';
import { RedisMessageLog } from '../delivery/redis-message-log.js';
import { RedisMessageLogKeys } from '../delivery/redis-message-log.keys.js';
import { RedisRateLimitStore } from '../limits/redis-rate-limit.store.js';
import type { SocketAdapterConstructor } from '../gateway/socket-adapter.factory.js';
import { RedisRegistryKeys } from '../registry/redis-registry.keys.js';
import { RedisRegistryStore } from '../registry/redis-registry.store.js';
import { RelayLogger } from '../thread-relay.logger.js';
import type { ResolvedRelayOptions } from '../thread-relay.options.js';
import { RedisConnections } from './redis-connections.js';

/** Everything that exists only in Redis mode; loaded with a dynamic import. */
export class RedisBackend {
  private constructor(
    readonly connections: RedisConnections,
    readonly registryStore: RedisRegistryStore,
    readonly messageLog: RedisMessageLog,
    readonly rateLimitStore: RedisRateLimitStore,
    private readonly keyPrefix: string,
  ) {}

  static create(options: ResolvedRelayOptions): RedisBackend {
    if (options.redis.kind === 'none') throw new Error('RedisBackend needs a redis option');
    const connections = RedisConnections.create(options.redis);
    const log = RelayLogger.for('RedisBackend', options);
    for (const [role, client] of Object.entries({
      commands: connections.commands,
      pub: connections.pub,
      sub: connections.sub,
    })) {
      // Without a listener ioredis prints every connection error to stderr itself.
      client.on('error', (error: Error) =>
        log.debug({ msg: 'redis client error', role, reason: error.message }),
      );
    }
    const registryKeys = new RedisRegistryKeys(options.keyPrefix);
    const logKeys = new RedisMessageLogKeys(options.keyPrefix);
    return new RedisBackend(
      connections,
      new RedisRegistryStore(connections.commands, options.keyPrefix, {
        deliveredTtlSeconds: options.history.ttlSeconds,
        // A new thread never inherits the log of an earlier thread under its id.
        threadDataKeys: (threadId) => logKeys.forThread(threadId),
      }),
      // Each append also counts the connections joined to its thread (same hash tag).
      new RedisMessageLog(
        connections.commands,
        options.history,
        options.keyPrefix,
        (threadId) => registryKeys.threadConns(threadId),
        options.delivery.maxEventBytes,
      ),
      new RedisRateLimitStore(connections.commands, options.keyPrefix),
      options.keyPrefix,
    );
  }

  socketAdapter(): SocketAdapterConstructor {
    return createAdapter(this.connections.pub, this.connections.sub, {
      key: `${this.keyPrefix}socket.io`,
    });
  }

  async close(): Promise<void> {
    await this.connections.close();
  }
}
