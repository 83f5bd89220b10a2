/**
 * Injection tokens of the module's internals that services depend on. They live apart from
 * the providers that fill them, so a service never imports the composition root.
 */

/** The Redis backend (`RedisBackend`), or null in memory mode. */
export const RELAY_REDIS = Symbol('RELAY_REDIS');
