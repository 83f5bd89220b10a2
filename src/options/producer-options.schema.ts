import { z } from 'zod';
import type { ThreadRelayModuleOptions } from '../thread-relay.options.js';
import { givenObject, pickKeys } from './given-object.js';

type ModuleOptions = ThreadRelayModuleOptions;

/** What a producer takes; anything else given is dropped. */
const PRODUCER_OPTIONS = [
  'redis',
  'keyPrefix',
  'instanceId',
  'history',
  'delivery',
  'logger',
] as const;

/** Passed on as given: the module checks it with every other option when it resolves them. */
const passedOn = <Key extends keyof ModuleOptions>() => z.custom<ModuleOptions[Key]>().optional();

const redisRequired =
  'is required for a producer: events reach the gateway instances through Redis (a URL, ioredis options, an ioredis client, { cluster: [...] } or an ioredis Cluster)';

/**
 * The options of `forProducer` and `createPublisher`: `redis` must be there, the rest is left
 * to the module. Not an object, they are refused as a whole, under the name `options`.
 */
export const producerOptionsSchema = givenObject('must be an object with at least `redis`', [
  'options',
])
  .transform(pickKeys(PRODUCER_OPTIONS))
  .pipe(
    z.object({
      redis: z.custom<NonNullable<ModuleOptions['redis']>>(
        (value) => value !== undefined && value !== null && value !== '',
        { error: redisRequired },
      ),
      keyPrefix: passedOn<'keyPrefix'>(),
      instanceId: passedOn<'instanceId'>(),
      history: passedOn<'history'>(),
      delivery: passedOn<'delivery'>(),
      logger: passedOn<'logger'>(),
    }),
  );
