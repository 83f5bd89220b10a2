import { InvalidOptionError } from '../errors/invalid-option.error.js';
import type { ThreadRelayModuleOptions } from '../thread-relay.options.js';

/**
 * What a process that only produces needs: the same Redis, `keyPrefix`, `history` and
 * `delivery` settings as the gateway instances it feeds (they share the logs, so
 * retention must agree), and an optional `logger`. It serves no sockets and no routes,
 * so it takes no `authenticate`, `gateway`, `limits` or `debug`.
 */
export type ThreadRelayProducerOptions = Pick<
  ThreadRelayModuleOptions,
  'keyPrefix' | 'instanceId' | 'history' | 'delivery' | 'logger'
> & {
  /** Required: a producer reaches the gateway instances through Redis. */
  redis: NonNullable<ThreadRelayModuleOptions['redis']>;
};

/** Never called: a producer authenticates nobody. */
const refuseEveryone = () => Promise.resolve(null);

/** The module options a producer runs with; throws naming the option that is wrong. */
export function producerModuleOptions(
  options: ThreadRelayProducerOptions,
): ThreadRelayModuleOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', 'must be an object with at least `redis`');
  }
  if (options.redis === undefined || options.redis === null || options.redis === '') {
    throw new InvalidOptionError(
      'redis',
      'is required for a producer: events reach the gateway instances through Redis (a URL, ioredis options, an ioredis client, { cluster: [...] } or an ioredis Cluster)',
    );
  }
  return {
    redis: options.redis,
    ...(options.keyPrefix === undefined ? {} : { keyPrefix: options.keyPrefix }),
    ...(options.instanceId === undefined ? {} : { instanceId: options.instanceId }),
    ...(options.history === undefined ? {} : { history: options.history }),
    ...(options.delivery === undefined ? {} : { delivery: options.delivery }),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    authenticate: refuseEveryone,
  };
}
