import { invalidOptionError } from '../options/option-name.js';
import { producerOptionsSchema } from '../options/producer-options.schema.js';
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
  const result = producerOptionsSchema.safeParse(options);
  if (!result.success) throw invalidOptionError(result.error);
  return { ...result.data, authenticate: refuseEveryone };
}
