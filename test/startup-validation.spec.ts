import { Cluster } from 'ioredis';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  InvalidOptionError,
  resolveRelayOptions,
  ThreadRelayModule,
  type ThreadRelayModuleOptions,
} from '../src/index.js';

const authenticate = () => null;

function optionError(options: unknown): InvalidOptionError {
  try {
    resolveRelayOptions(options as ThreadRelayModuleOptions);
  } catch (error) {
    if (error instanceof InvalidOptionError) return error;
    throw error;
  }
  throw new Error('expected an InvalidOptionError');
}

describe('startup validation', () => {
  it.each([
    [{}, 'authenticate', /required/],
    [{ authenticate: 'yes' }, 'authenticate', /must be a function/],
    [{ authenticate, redis: 'not a url' }, 'redis', /parseable URL/],
    [{ authenticate, redis: 'http://localhost:6379' }, 'redis', /redis:\/\//],
    [{ authenticate, redis: 42 }, 'redis', /must be a URL/],
    [{ authenticate, redis: { cluster: [] } }, 'redis.cluster', /non-empty array/],
    [{ authenticate, delivery: { replicaAcks: 1 } }, 'delivery.replicaAcks', /needs `redis`/],
    [{ authenticate, sse: { heartbeatMs: 10 } }, 'sse.heartbeatMs', /between 100 and 600000/],
    [{ authenticate, sse: { heartbeatMs: '15s' } }, 'sse.heartbeatMs', /integer/],
    [{ authenticate, sse: 'on' }, 'sse', /object/],
    [
      {
        authenticate,
        redis: { cluster: [{ host: 'a', port: 7000 }], options: { keyPrefix: 'x:' } },
      },
      'redis.options.keyPrefix',
      /module option `keyPrefix`/,
    ],
    [
      {
        authenticate,
        redis: {
          cluster: [{ host: 'a', port: 7000 }],
          options: { redisOptions: { keyPrefix: 'x:' } },
        },
      },
      'redis.options.keyPrefix',
      /not supported on a cluster/,
    ],
    [
      {
        authenticate,
        redis: { cluster: [{ host: 'a', port: 7000 }], options: { scaleReads: 'slave' } },
      },
      'redis.options.scaleReads',
      /must be 'master'/,
    ],
    [
      { authenticate, redis: 'redis://r:6379', delivery: { replicaAcks: 17 } },
      'delivery.replicaAcks',
      /between 0 and 16/,
    ],
    [
      { authenticate, redis: 'redis://r:6379', delivery: { replicaAcks: -1 } },
      'delivery.replicaAcks',
      /between 0 and 16/,
    ],
    [{ authenticate, redis: { cluster: 'a:7000' } }, 'redis.cluster', /non-empty array/],
    [{ authenticate, redis: { cluster: ['a:7000'] } }, 'redis.cluster[0]', /\{ host, port \}/],
    [{ authenticate, redis: { cluster: [{ port: 7000 }] } }, 'redis.cluster[0].host', /host/],
    [
      {
        authenticate,
        redis: {
          cluster: [
            { host: 'a', port: 7000 },
            { host: 'b', port: 70000 },
          ],
        },
      },
      'redis.cluster[1].port',
      /1 to 65535/,
    ],
    [
      { authenticate, redis: { cluster: [{ host: 'a', port: '7000' }] } },
      'redis.cluster[0].port',
      /integer/,
    ],
    [
      { authenticate, redis: { cluster: [{ host: 'a', port: 7000 }], host: 'b' } },
      'redis',
      /only `options` beside it.*`host`/,
    ],
    [
      { authenticate, redis: { cluster: [{ host: 'a', port: 7000 }], options: 'fast' } },
      'redis.options',
      /object/,
    ],
    [
      {
        authenticate,
        redis: { cluster: Array.from({ length: 1001 }, () => ({ host: 'a', port: 7000 })) },
      },
      'redis.cluster',
      /at most 1000/,
    ],
    [{ authenticate, history: { ttlSeconds: -1 } }, 'history.ttlSeconds', /between 1/],
    [{ authenticate, history: { ttlSeconds: 1.5 } }, 'history.ttlSeconds', /integer/],
    [{ authenticate, history: { maxPerThread: 0 } }, 'history.maxPerThread', /between 1/],
    [{ authenticate, history: 'long' }, 'history', /object/],
    [{ authenticate, gateway: { namespace: 'relay' } }, 'gateway.namespace', /starting with/],
    [{ authenticate, gateway: { corsOrigins: 'everyone' } }, 'gateway.corsOrigins', /array/],
    [
      { authenticate, gateway: { corsOrigins: ['example.com'] } },
      'gateway.corsOrigins[0]',
      /origin/,
    ],
    [{ authenticate, gateway: { maxPayloadBytes: 10 } }, 'gateway.maxPayloadBytes', /between/],
    [
      { authenticate, gateway: { maxPayloadBytes: 65_000 } },
      'gateway.maxPayloadBytes',
      /at least delivery.maxEventBytes \+ 1024 \(66560\)/,
    ],
    [{ authenticate, liveness: { heartbeatMs: 5000, ttlMs: 4000 } }, 'liveness.ttlMs', /greater/],
    [{ authenticate, debug: { adminToken: 'short' } }, 'debug.adminToken', /16 characters/],
    [{ authenticate, keyPrefix: 'a{b}' }, 'keyPrefix', /braces/],
    [{ authenticate, instanceId: 'has space' }, 'instanceId', /letters/],
    [
      { authenticate, delivery: { unavailableTimeoutMs: -5 } },
      'delivery.unavailableTimeoutMs',
      /between/,
    ],
    [
      { authenticate, history: { autoThreadTtlSeconds: 0 } },
      'history.autoThreadTtlSeconds',
      /between 1/,
    ],
    [{ authenticate, limits: 'strict' }, 'limits', /object/],
    [{ authenticate, limits: { clientEvents: 5 } }, 'limits.clientEvents', /object/],
    [
      { authenticate, limits: { clientEvents: { perSecond: 0 } } },
      'limits.clientEvents.perSecond',
      /between 1/,
    ],
    [
      { authenticate, limits: { clientEvents: { burst: 2.5 } } },
      'limits.clientEvents.burst',
      /integer/,
    ],
    [
      { authenticate, limits: { connectionAttempts: { perMinute: 0 } } },
      'limits.connectionAttempts.perMinute',
      /between 1/,
    ],
    [
      { authenticate, limits: { readBytes: { perSecond: 10 } } },
      'limits.readBytes.perSecond',
      /between 1024/,
    ],
    [
      { authenticate, limits: { httpRequests: { perSecond: 0 } } },
      'limits.httpRequests.perSecond',
      /between 1/,
    ],
    [
      { authenticate, limits: { userMessages: { perMinute: -1 } } },
      'limits.userMessages.perMinute',
      /between 1/,
    ],
    [
      { authenticate, limits: { userMessages: { burst: '10' } } },
      'limits.userMessages.burst',
      /integer/,
    ],
    [
      { authenticate, limits: { joinedThreadsPerConnection: 0 } },
      'limits.joinedThreadsPerConnection',
      /between 1/,
    ],
    [
      { authenticate, limits: { concurrentJoinsPerConnection: 10_001 } },
      'limits.concurrentJoinsPerConnection',
      /between 1 and 10000/,
    ],
    [{ authenticate, limits: { connectionsPerUser: 0 } }, 'limits.connectionsPerUser', /between 1/],
    [
      { authenticate, limits: { autoRegisteredThreadsPerUser: null } },
      'limits.autoRegisteredThreadsPerUser',
      /integer/,
    ],
    [{ authenticate, backpressure: [] }, 'backpressure', /object/],
    [
      { authenticate, backpressure: { highWaterBytes: 10 } },
      'backpressure.highWaterBytes',
      /between 1024/,
    ],
    [
      { authenticate, backpressure: { highWaterBytes: 4096, maxBufferedBytes: 2048 } },
      'backpressure.maxBufferedBytes',
      /at least backpressure.highWaterBytes/,
    ],
    [
      { authenticate, backpressure: { stallTimeoutMs: 5 } },
      'backpressure.stallTimeoutMs',
      /between 100/,
    ],
  ])('refuses %j naming %s', (options, option, reason) => {
    const error = optionError(options);
    expect(error.option).toBe(option);
    expect(error.code).toBe('INVALID_OPTION');
    expect(error.message).toContain(`"${option}"`);
    expect(error.message).toMatch(reason);
  });

  it('applies defaults: in-memory when redis is absent', () => {
    const resolved = resolveRelayOptions({ authenticate });
    expect(resolved.redis).toEqual({ kind: 'none' });
    expect(resolved.history).toEqual({
      ttlSeconds: 86_400,
      maxPerThread: 1_000,
      autoThreadTtlSeconds: 86_400,
    });
    expect(resolved.limits).toEqual({
      clientEvents: { perSecond: 200, burst: 400 },
      connectionAttempts: { perMinute: 60, burst: 20 },
      readBytes: { perSecond: 4_194_304, burst: 16_777_216 },
      httpRequests: { perSecond: 100, burst: 200 },
      producerRequests: { perSecond: 1_000, burst: 2_000 },
      userMessages: { perMinute: 30, burst: 10 },
      joinedThreadsPerConnection: 200,
      concurrentJoinsPerConnection: 4,
      connectionsPerUser: 20,
      autoRegisteredThreadsPerUser: 1_000,
    });
    // The largest frame a client needs is a user message of maxEventBytes.
    expect(resolved.gateway.maxPayloadBytes).toBe(131_072);
    expect(
      resolveRelayOptions({ authenticate, delivery: { maxEventBytes: 500_000 } }).gateway
        .maxPayloadBytes,
    ).toBe(516_384);
    expect(resolved.backpressure).toEqual({
      highWaterBytes: 262_144,
      maxBufferedBytes: 4_194_304,
      stallTimeoutMs: 30_000,
    });
    expect(resolved.debug.adminToken).toBeNull();
    expect(resolved.liveness.ttlMs).toBeLessThanOrEqual(30_000);
  });

  it('accepts a redis URL, options or a client', () => {
    expect(
      resolveRelayOptions({ authenticate, redis: 'redis://127.0.0.1:6379/2' }).redis.kind,
    ).toBe('url');
    expect(resolveRelayOptions({ authenticate, redis: { host: '127.0.0.1' } }).redis.kind).toBe(
      'options',
    );
  });

  it('accepts Redis Cluster seed nodes with options, or an ioredis Cluster (left open)', () => {
    expect(
      resolveRelayOptions({
        authenticate,
        redis: { cluster: [{ host: '127.0.0.1', port: 7000 }], options: { scaleReads: 'master' } },
      }).redis,
    ).toEqual({
      kind: 'cluster',
      nodes: [{ host: '127.0.0.1', port: 7000 }],
      options: { scaleReads: 'master' },
    });
    const cluster = new Cluster([{ host: '127.0.0.1', port: 7000 }], { lazyConnect: true });
    expect(resolveRelayOptions({ authenticate, redis: cluster }).redis).toEqual({
      kind: 'cluster-client',
      client: cluster,
    });
    const readsReplicas = new Cluster([{ host: '127.0.0.1', port: 7000 }], {
      lazyConnect: true,
      scaleReads: 'all',
    });
    expect(optionError({ authenticate, redis: readsReplicas }).option).toBe(
      'redis (the Cluster passed in).scaleReads',
    );
  });

  it('stops a Nest app from booting and names the option', async () => {
    @Module({
      imports: [ThreadRelayModule.forRoot({ authenticate, history: { ttlSeconds: -1 } })],
    })
    class BadModule {}
    await expect(
      NestFactory.create(BadModule, { logger: false, abortOnError: false }),
    ).rejects.toThrow(/"history\.ttlSeconds" must be between 1/);
  });

  it('validates forRootAsync options the same way', async () => {
    @Module({
      imports: [
        ThreadRelayModule.forRootAsync({
          useFactory: () => ({ authenticate, redis: 'nope://' }),
        }),
      ],
    })
    class BadAsyncModule {}
    await expect(
      NestFactory.create(BadAsyncModule, { logger: false, abortOnError: false }),
    ).rejects.toThrow(/"redis" must use the redis:\/\/ or rediss:\/\/ scheme/);
  });
});
