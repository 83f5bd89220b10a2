import { describe, expect, it } from '@jest/globals';
import { ConfigError, DEV_JWT_SECRET, readServerConfig } from '../../src/demo/server-config.js';

const SECRET = 'a-production-secret-of-at-least-32-bytes';
const KEY_A = 'producer-key-a-0123456789';
const KEY_B = 'producer-key-b-0123456789';

function configError(env: NodeJS.ProcessEnv): ConfigError {
  try {
    readServerConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe('readServerConfig', () => {
  it('has the documented defaults', () => {
    expect(readServerConfig({})).toEqual({
      port: 8000,
      redisUrl: undefined,
      jwtSecret: DEV_JWT_SECRET,
      jwtSecretIsDefault: true,
      adminToken: undefined,
      debugLoopbackWithoutToken: true,
      historyTtlSeconds: undefined,
      historyMax: undefined,
      logLevel: 'info',
      production: false,
    });
  });

  it('reads every variable', () => {
    expect(
      readServerConfig({
        PORT: '9001',
        REDIS_URL: 'redis://redis:6379/2',
        RELAY_JWT_SECRET: SECRET,
        RELAY_ADMIN_TOKEN: 'admin-token-0123456789',
        RELAY_HISTORY_TTL_SECONDS: '60',
        RELAY_HISTORY_MAX: '50',
        LOG_LEVEL: 'debug',
        NODE_ENV: 'production',
      }),
    ).toEqual({
      port: 9001,
      redisUrl: 'redis://redis:6379/2',
      jwtSecret: SECRET,
      jwtSecretIsDefault: false,
      adminToken: 'admin-token-0123456789',
      debugLoopbackWithoutToken: false,
      historyTtlSeconds: 60,
      historyMax: 50,
      logLevel: 'debug',
      production: true,
    });
  });

  it('reads REDIS_CLUSTER_NODES as Redis Cluster seed nodes', () => {
    expect(
      readServerConfig({ REDIS_CLUSTER_NODES: 'redis-node-1:6379, 10.0.0.2:7001,[::1]:7002' })
        .redisClusterNodes,
    ).toEqual([
      { host: 'redis-node-1', port: 6379 },
      { host: '10.0.0.2', port: 7001 },
      { host: '::1', port: 7002 },
    ]);
    expect(readServerConfig({ REDIS_CLUSTER_NODES: ' ' }).redisClusterNodes).toBeUndefined();
  });

  it.each([
    ['redis-node-1', 'entry 1 must be host:port'],
    ['a:6379,b', 'entry 2 must be host:port'],
    ['a:0', 'entry 1 must be host:port (port 1-65535)'],
    ['a:65536', 'entry 1 must be host:port'],
    ['a b:6379', 'entry 1 must be host:port'],
    ['redis://a:6379', 'entry 1 must be host:port'],
    [Array.from({ length: 1001 }, (_, i) => `n${i}:7000`).join(','), 'at most 1000'],
  ])('refuses REDIS_CLUSTER_NODES=%j, saying why', (value, message) => {
    const error = configError({ REDIS_CLUSTER_NODES: value });
    expect(error.message).toContain('REDIS_CLUSTER_NODES');
    expect(error.message).toContain(message);
  });

  it('refuses REDIS_URL and REDIS_CLUSTER_NODES together', () => {
    expect(
      configError({ REDIS_URL: 'redis://a:6379', REDIS_CLUSTER_NODES: 'a:7000' }).message,
    ).toMatch(/both set/);
  });

  it('treats empty variables as unset', () => {
    const config = readServerConfig({ PORT: '', REDIS_URL: '', RELAY_ADMIN_TOKEN: '' });
    expect(config.port).toBe(8000);
    expect(config.redisUrl).toBeUndefined();
    expect(config.adminToken).toBeUndefined();
  });

  it.each([
    ['PORT', { PORT: 'eighty' }],
    ['PORT', { PORT: '0' }],
    ['PORT', { PORT: '-1' }],
    ['PORT', { PORT: '80.5' }],
    ['PORT', { PORT: '65536' }],
    ['LOG_LEVEL', { LOG_LEVEL: 'verbose' }],
    ['RELAY_HISTORY_TTL_SECONDS', { RELAY_HISTORY_TTL_SECONDS: '1d' }],
    ['RELAY_HISTORY_MAX', { RELAY_HISTORY_MAX: '0' }],
    ['RELAY_JWT_SECRET', { RELAY_JWT_SECRET: 'short' }],
    ['RELAY_JWT_SECRET', { NODE_ENV: 'production' }],
    ['RELAY_JWT_SECRET', { NODE_ENV: 'production', RELAY_JWT_SECRET: '' }],
    ['RELAY_ADMIN_TOKEN', { RELAY_ADMIN_TOKEN: 'too-short' }],
  ])('refuses a bad %s (%j) with a ConfigError naming it', (name, env) => {
    const error = configError(env);
    expect(error.message).toContain(name);
  });

  it('quotes the bad value so it can be found', () => {
    expect(configError({ PORT: 'eighty' }).message).toContain('"eighty"');
    expect(configError({ LOG_LEVEL: 'verbose' }).message).toContain('"verbose"');
  });

  it('never puts a secret into its message', () => {
    expect(configError({ RELAY_JWT_SECRET: 'tiny-secret' }).message).not.toContain('tiny-secret');
  });

  it('opens the debug routes to loopback clients without a token in development only', () => {
    expect(readServerConfig({}).debugLoopbackWithoutToken).toBe(true);
    expect(readServerConfig({ NODE_ENV: 'development' }).debugLoopbackWithoutToken).toBe(true);
    expect(readServerConfig({ NODE_ENV: 'test' }).debugLoopbackWithoutToken).toBe(true);
    expect(
      readServerConfig({ NODE_ENV: 'production', RELAY_JWT_SECRET: SECRET })
        .debugLoopbackWithoutToken,
    ).toBe(false);
  });

  it('accepts the dev secret outside production only', () => {
    expect(readServerConfig({ NODE_ENV: 'development' }).jwtSecretIsDefault).toBe(true);
    expect(readServerConfig({ NODE_ENV: 'production', RELAY_JWT_SECRET: SECRET }).production).toBe(
      true,
    );
  });
});

describe('RELAY_PRODUCER_KEYS', () => {
  it('is off when unset or empty', () => {
    expect(readServerConfig({}).producerKeys).toBeUndefined();
    expect(readServerConfig({ RELAY_PRODUCER_KEYS: '  ' }).producerKeys).toBeUndefined();
  });

  it('reads comma-separated keys, trimming spaces around them', () => {
    expect(readServerConfig({ RELAY_PRODUCER_KEYS: `${KEY_A}, ${KEY_B}` }).producerKeys).toEqual([
      KEY_A,
      KEY_B,
    ]);
  });

  it('refuses a short or empty key by position, without printing it', () => {
    const short = configError({ RELAY_PRODUCER_KEYS: `${KEY_A},tiny-secret` });
    expect(short.message).toMatch(/^RELAY_PRODUCER_KEYS key 2 of 2 is 11 characters/);
    expect(short.message).toMatch(/at least 16/);
    expect(short.message).not.toContain('tiny-secret');
    expect(configError({ RELAY_PRODUCER_KEYS: `${KEY_A},` }).message).toMatch(
      /RELAY_PRODUCER_KEYS key 2 of 2 is 0 characters/,
    );
    expect(configError({ RELAY_PRODUCER_KEYS: 'two words in one key 0123' }).message).toMatch(
      /RELAY_PRODUCER_KEYS key 1 of 1 contains whitespace/,
    );
  });

  it('refuses the admin token as a producer key', () => {
    expect(configError({ RELAY_PRODUCER_KEYS: KEY_A, RELAY_ADMIN_TOKEN: KEY_A }).message).toMatch(
      /RELAY_PRODUCER_KEYS must not contain RELAY_ADMIN_TOKEN/,
    );
  });
});
