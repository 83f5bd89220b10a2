/**
 * Injection tokens of the module's internals. They live apart from the providers that fill
 * them (`thread-relay.providers.ts`), so a service never imports the composition root.
 */

/** The resolved options (`ResolvedRelayOptions`). */
export const RELAY_OPTIONS = Symbol('RELAY_OPTIONS');

/** The Redis backend (`RedisBackend`), or null in memory mode. */
export const RELAY_REDIS = Symbol('RELAY_REDIS');

/** The registry store (`RegistryStore`): memory or Redis. */
export const REGISTRY_STORE = Symbol('REGISTRY_STORE');

/** The per-thread message log (`MessageLog`): memory or Redis. */
export const MESSAGE_LOG = Symbol('MESSAGE_LOG');

/** The live-event bus between instances (`ClusterBus`): in-process or Redis pub/sub. */
export const CLUSTER_BUS = Symbol('CLUSTER_BUS');

/** Shared token buckets (`RateLimitStore`): memory or Redis. */
export const RATE_LIMIT_STORE = Symbol('RATE_LIMIT_STORE');

/** What `/metrics` asks of a scraper (`MetricsAccess`). */
export const METRICS_ACCESS = Symbol('thread-relay:metrics-access');

/** `limits.httpRequests` per user on the user routes (`LocalRateLimiter`). */
export const USER_REQUEST_LIMITER = Symbol('USER_REQUEST_LIMITER');

/** `limits.producerRequests` per producer key on the producer routes (`LocalRateLimiter`). */
export const PRODUCER_REQUEST_LIMITER = Symbol('PRODUCER_REQUEST_LIMITER');
