import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { InvalidOptionError } from './errors/invalid-option.error.js';
import { isClusterClient } from './redis/redis-client.js';
import { isValidId } from './ids.js';
import type { ResolvedRelayOptions, ThreadRelayModuleOptions } from './thread-relay.options.js';

const MAX_INT = 2 ** 31 - 1;

function integer(
  option: string,
  value: unknown,
  fallback: number,
  min: number,
  max = MAX_INT,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new InvalidOptionError(option, `must be an integer, got ${describe(value)}`);
  }
  if (value < min || value > max) {
    throw new InvalidOptionError(option, `must be between ${min} and ${max}, got ${value}`);
  }
  return value;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.slice(0, 80));
  if (value === null) return 'null';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return typeof value;
}

function objectOrUndefined(option: string, value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidOptionError(option, `must be an object, got ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

function looksLikeRedisClient(value: object): boolean {
  const candidate = value as { duplicate?: unknown; sendCommand?: unknown };
  return typeof candidate.duplicate === 'function' && typeof candidate.sendCommand === 'function';
}

/** More seed nodes than any real cluster has masters and replicas would be a mistake. */
const MAX_CLUSTER_SEEDS = 1_000;

function resolveClusterNodes(value: unknown): { host: string; port: number }[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new InvalidOptionError(
      'redis.cluster',
      `must be a non-empty array of { host, port } seed nodes, got ${describe(value)}`,
    );
  }
  if (value.length > MAX_CLUSTER_SEEDS) {
    throw new InvalidOptionError(
      'redis.cluster',
      `lists ${value.length} seed nodes; at most ${MAX_CLUSTER_SEEDS} (a few per cluster suffice)`,
    );
  }
  return value.map((node: unknown, index) => {
    const where = `redis.cluster[${index}]`;
    if (node === null || typeof node !== 'object' || Array.isArray(node)) {
      throw new InvalidOptionError(where, `must be { host, port }, got ${describe(node)}`);
    }
    const { host, port } = node as { host?: unknown; port?: unknown };
    if (typeof host !== 'string' || host.trim() === '' || host.length > 255) {
      throw new InvalidOptionError(
        `${where}.host`,
        `must be a host name or address, got ${describe(host)}`,
      );
    }
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65_535) {
      throw new InvalidOptionError(
        `${where}.port`,
        `must be an integer from 1 to 65535, got ${describe(port)}`,
      );
    }
    return { host, port };
  });
}

/**
 * Cluster options the module cannot work with: ioredis prefixes the keys of a command, and a
 * cluster's shard channels count as keys, but not the channels the scripts publish to (an
 * argument), so live events would go unheard (the module's own `keyPrefix` prefixes both);
 * reads from replicas could miss a thread just created or call a live instance dead.
 */
function checkClusterOptions(where: string, options: Record<string, unknown>): void {
  const redisOptions = (options.redisOptions ?? {}) as Record<string, unknown>;
  if (options.keyPrefix !== undefined || redisOptions.keyPrefix !== undefined) {
    throw new InvalidOptionError(
      `${where}.keyPrefix`,
      'is not supported on a cluster: use the module option `keyPrefix`, which also prefixes the channels',
    );
  }
  if (options.scaleReads !== undefined && options.scaleReads !== 'master') {
    throw new InvalidOptionError(
      `${where}.scaleReads`,
      `must be 'master' (the default): the registry and the log read what they just wrote, which a replica may not have yet`,
    );
  }
}

function resolveRedis(value: unknown): ResolvedRelayOptions['redis'] {
  if (value === undefined || value === null) return { kind: 'none' };
  if (typeof value === 'string') {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new InvalidOptionError('redis', `is not a parseable URL: ${describe(value)}`);
    }
    if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
      throw new InvalidOptionError(
        'redis',
        `must use the redis:// or rediss:// scheme, got "${url.protocol}"`,
      );
    }
    if (!url.hostname) throw new InvalidOptionError('redis', `has no host: ${describe(value)}`);
    return { kind: 'url', url: value };
  }
  if (typeof value === 'object' && !Array.isArray(value)) {
    if (isClusterClient(value)) {
      checkClusterOptions(
        'redis (the Cluster passed in)',
        value.options as Record<string, unknown>,
      );
      return { kind: 'cluster-client', client: value };
    }
    if (looksLikeRedisClient(value)) return { kind: 'client', client: value as never };
    if ('cluster' in value) {
      const { cluster, options, ...rest } = value as { cluster: unknown; options?: unknown };
      const unknown = Object.keys(rest);
      if (unknown.length > 0) {
        throw new InvalidOptionError(
          'redis',
          `with \`cluster\` takes only \`options\` beside it (ioredis ClusterOptions), got ${unknown.map((key) => `\`${key}\``).join(', ')}`,
        );
      }
      const clusterOptions = objectOrUndefined('redis.options', options);
      checkClusterOptions('redis.options', clusterOptions);
      return { kind: 'cluster', nodes: resolveClusterNodes(cluster), options: clusterOptions };
    }
    return { kind: 'options', options: value };
  }
  throw new InvalidOptionError(
    'redis',
    `must be a URL, ioredis options, an ioredis client, { cluster: [...] } or an ioredis Cluster, got ${describe(value)}`,
  );
}

function resolveCors(value: unknown): string[] | '*' | null {
  if (value === undefined) return null;
  if (value === '*') return '*';
  if (!Array.isArray(value)) {
    throw new InvalidOptionError('gateway.corsOrigins', `must be '*' or an array of origins`);
  }
  return value.map((origin, index) => {
    if (typeof origin !== 'string') {
      throw new InvalidOptionError(`gateway.corsOrigins[${index}]`, 'must be a string');
    }
    try {
      const url = new URL(origin);
      if (url.origin !== origin) throw new Error('not an origin');
    } catch {
      throw new InvalidOptionError(
        `gateway.corsOrigins[${index}]`,
        `must be an origin like https://app.example.com, got ${describe(origin)}`,
      );
    }
    return origin;
  });
}

function optionalFunction<T>(option: string, value: unknown): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') {
    throw new InvalidOptionError(option, `must be a function, got ${describe(value)}`);
  }
  return value as T;
}

/** Keys longer than this are refused: a bearer token is one header line, not a file. */
const MAX_PRODUCER_KEY_CHARS = 1024;
const MAX_PRODUCER_KEYS = 100;

/**
 * `producer.apiKeys`: each key is a bearer token, so it must be guessable by nobody (16+
 * characters), sendable in an Authorization header (no whitespace), and distinct from the
 * admin token (a producer key opens only the producer routes).
 */
function resolveProducerKeys(value: unknown, adminToken: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    throw new InvalidOptionError(
      'producer.apiKeys',
      `must be an array of strings, got ${describe(value)}`,
    );
  }
  if (value.length > MAX_PRODUCER_KEYS) {
    throw new InvalidOptionError(
      'producer.apiKeys',
      `must hold at most ${MAX_PRODUCER_KEYS} keys, got ${value.length}`,
    );
  }
  return value.map((key: unknown, index) => {
    const option = `producer.apiKeys[${index}]`;
    if (typeof key !== 'string') {
      throw new InvalidOptionError(option, `must be a string, got ${describe(key)}`);
    }
    if (key.length < 16 || key.length > MAX_PRODUCER_KEY_CHARS) {
      throw new InvalidOptionError(
        option,
        `must be 16-${MAX_PRODUCER_KEY_CHARS} characters (a shorter key can be guessed), got ${key.length}`,
      );
    }
    if (/\s/.test(key)) {
      throw new InvalidOptionError(
        option,
        'must not contain whitespace (it is sent as "Authorization: Bearer <key>")',
      );
    }
    if (key === adminToken) {
      throw new InvalidOptionError(
        option,
        'must differ from debug.adminToken: a producer key opens only the producer routes',
      );
    }
    return key;
  });
}

/** Applies defaults and checks every option; throws `InvalidOptionError` naming the first bad one. */
export function resolveRelayOptions(
  raw: ThreadRelayModuleOptions | undefined,
): ResolvedRelayOptions {
  const input = objectOrUndefined('(options)', raw) as Partial<ThreadRelayModuleOptions>;
  const authenticate = optionalFunction<ResolvedRelayOptions['authenticate']>(
    'authenticate',
    input.authenticate,
  );
  if (!authenticate) {
    throw new InvalidOptionError(
      'authenticate',
      'is required: a function (request) => { userId } | null that checks the token of each connection and HTTP request',
    );
  }
  const keyPrefix = input.keyPrefix ?? '';
  if (typeof keyPrefix !== 'string' || /[{}\s]/.test(keyPrefix) || keyPrefix.length > 100) {
    throw new InvalidOptionError(
      'keyPrefix',
      'must be a string of at most 100 characters without braces or spaces',
    );
  }
  const instanceId =
    input.instanceId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  if (!isValidId(instanceId)) {
    throw new InvalidOptionError('instanceId', 'may only contain letters, digits and _ . : @ -');
  }
  const autoRegister = input.autoRegisterThreads ?? true;
  if (typeof autoRegister !== 'boolean') {
    throw new InvalidOptionError('autoRegisterThreads', 'must be a boolean');
  }

  const history = objectOrUndefined('history', input.history);
  const gateway = objectOrUndefined('gateway', input.gateway);
  const delivery = objectOrUndefined('delivery', input.delivery);
  const liveness = objectOrUndefined('liveness', input.liveness);
  const debug = objectOrUndefined('debug', input.debug);
  const limits = objectOrUndefined('limits', input.limits);
  const backpressure = objectOrUndefined('backpressure', input.backpressure);
  const sse = objectOrUndefined('sse', input.sse);
  const clientEvents = objectOrUndefined('limits.clientEvents', limits.clientEvents);
  const userMessages = objectOrUndefined('limits.userMessages', limits.userMessages);
  const httpRequests = objectOrUndefined('limits.httpRequests', limits.httpRequests);
  const attempts = objectOrUndefined('limits.connectionAttempts', limits.connectionAttempts);
  const readBytes = objectOrUndefined('limits.readBytes', limits.readBytes);
  const producer = objectOrUndefined('producer', input.producer);
  const producerRequests = objectOrUndefined('limits.producerRequests', limits.producerRequests);

  const namespace = gateway.namespace ?? '/';
  if (typeof namespace !== 'string' || !namespace.startsWith('/')) {
    throw new InvalidOptionError('gateway.namespace', `must be a string starting with "/"`);
  }
  const path = gateway.path ?? '/socket.io';
  if (typeof path !== 'string' || !path.startsWith('/')) {
    throw new InvalidOptionError('gateway.path', `must be a string starting with "/"`);
  }
  const pingIntervalMs = integer('gateway.pingIntervalMs', gateway.pingIntervalMs, 25_000, 100);
  const pingTimeoutMs = integer('gateway.pingTimeoutMs', gateway.pingTimeoutMs, 20_000, 100);

  const heartbeatMs = integer('liveness.heartbeatMs', liveness.heartbeatMs, 5_000, 50);
  const ttlMs = integer('liveness.ttlMs', liveness.ttlMs, 15_000, 100);
  if (ttlMs <= heartbeatMs) {
    throw new InvalidOptionError(
      'liveness.ttlMs',
      `must be greater than liveness.heartbeatMs (${heartbeatMs}), got ${ttlMs}`,
    );
  }

  const adminToken = debug.adminToken;
  if (adminToken !== undefined && (typeof adminToken !== 'string' || adminToken.length < 16)) {
    throw new InvalidOptionError('debug.adminToken', 'must be a string of at least 16 characters');
  }
  const allowLoopbackWithoutToken =
    debug.allowLoopbackWithoutToken === undefined ? false : debug.allowLoopbackWithoutToken;
  if (typeof allowLoopbackWithoutToken !== 'boolean') {
    throw new InvalidOptionError(
      'debug.allowLoopbackWithoutToken',
      `must be a boolean, got ${describe(allowLoopbackWithoutToken)}`,
    );
  }
  if (input.logger !== undefined && (typeof input.logger !== 'object' || input.logger === null)) {
    throw new InvalidOptionError('logger', 'must be a Nest LoggerService');
  }

  const ttlSeconds = integer('history.ttlSeconds', history.ttlSeconds, 86_400, 1);
  const maxEventBytes = integer('delivery.maxEventBytes', delivery.maxEventBytes, 65_536, 64);
  // The largest frame a client needs is a user message of maxEventBytes; a bigger one only
  // costs the server parsing time (a 1 MB frame a dozen times a second slows everyone).
  // A user message's frame is its text (at most maxEventBytes less 400, as JSON) and ids.
  const smallestFrame = maxEventBytes + 1024;
  const maxPayloadBytes = integer(
    'gateway.maxPayloadBytes',
    gateway.maxPayloadBytes,
    Math.max(128 * 1024, maxEventBytes + 16 * 1024),
    1024,
  );
  if (maxPayloadBytes < smallestFrame) {
    throw new InvalidOptionError(
      'gateway.maxPayloadBytes',
      `must be at least delivery.maxEventBytes + 1024 (${smallestFrame}), or the largest user message could not be sent; got ${maxPayloadBytes}`,
    );
  }
  const highWaterBytes = integer(
    'backpressure.highWaterBytes',
    backpressure.highWaterBytes,
    256 * 1024,
    1024,
  );
  const maxBufferedBytes = integer(
    'backpressure.maxBufferedBytes',
    backpressure.maxBufferedBytes,
    4 * 1024 * 1024,
    1024,
  );
  if (maxBufferedBytes < highWaterBytes) {
    throw new InvalidOptionError(
      'backpressure.maxBufferedBytes',
      `must be at least backpressure.highWaterBytes (${highWaterBytes}), got ${maxBufferedBytes}`,
    );
  }
  // The largest body a producer needs is one event of maxEventBytes and its envelope.
  const smallestProducerBody = maxEventBytes + 1024;
  const producerMaxBodyBytes = integer(
    'producer.maxBodyBytes',
    producer.maxBodyBytes,
    Math.max(4 * 1024 * 1024, maxEventBytes + 16 * 1024),
    1024,
    256 * 1024 * 1024,
  );
  if (producerMaxBodyBytes < smallestProducerBody) {
    throw new InvalidOptionError(
      'producer.maxBodyBytes',
      `must be at least delivery.maxEventBytes + 1024 (${smallestProducerBody}), or the largest event could not be sent; got ${producerMaxBodyBytes}`,
    );
  }
  const clientBurst = integer('limits.clientEvents.burst', clientEvents.burst, 400, 1, 1_000_000);
  const clientRate = integer(
    'limits.clientEvents.perSecond',
    clientEvents.perSecond,
    200,
    1,
    1_000_000,
  );
  const joined = integer(
    'limits.joinedThreadsPerConnection',
    limits.joinedThreadsPerConnection,
    200,
    1,
    100_000,
  );

  const redis = resolveRedis(input.redis);
  const replicaAcks = integer('delivery.replicaAcks', delivery.replicaAcks, 0, 0, 16);
  if (replicaAcks > 0 && redis.kind === 'none') {
    throw new InvalidOptionError(
      'delivery.replicaAcks',
      'needs `redis`: in memory there are no replicas to wait for',
    );
  }

  return {
    redis,
    keyPrefix,
    instanceId,
    authenticate,
    threadAccess: optionalFunction('threadAccess', input.threadAccess),
    autoRegisterThreads: autoRegister,
    history: {
      ttlSeconds,
      maxPerThread: integer('history.maxPerThread', history.maxPerThread, 1_000, 1, 10_000_000),
      autoThreadTtlSeconds: integer(
        'history.autoThreadTtlSeconds',
        history.autoThreadTtlSeconds,
        ttlSeconds,
        1,
      ),
    },
    limits: {
      clientEvents: { perSecond: clientRate, burst: clientBurst },
      connectionAttempts: {
        perMinute: integer(
          'limits.connectionAttempts.perMinute',
          attempts.perMinute,
          60,
          1,
          1_000_000,
        ),
        burst: integer('limits.connectionAttempts.burst', attempts.burst, 20, 1, 1_000_000),
      },
      readBytes: {
        perSecond: integer(
          'limits.readBytes.perSecond',
          readBytes.perSecond,
          4 * 1024 * 1024,
          1024,
        ),
        burst: integer('limits.readBytes.burst', readBytes.burst, 16 * 1024 * 1024, 1024),
      },
      httpRequests: {
        perSecond: integer(
          'limits.httpRequests.perSecond',
          httpRequests.perSecond,
          100,
          1,
          1_000_000,
        ),
        burst: integer('limits.httpRequests.burst', httpRequests.burst, 200, 1, 1_000_000),
      },
      producerRequests: {
        perSecond: integer(
          'limits.producerRequests.perSecond',
          producerRequests.perSecond,
          1_000,
          1,
          1_000_000,
        ),
        burst: integer(
          'limits.producerRequests.burst',
          producerRequests.burst,
          2_000,
          1,
          1_000_000,
        ),
      },
      userMessages: {
        perMinute: integer(
          'limits.userMessages.perMinute',
          userMessages.perMinute,
          30,
          1,
          1_000_000,
        ),
        burst: integer('limits.userMessages.burst', userMessages.burst, 10, 1, 1_000_000),
      },
      joinedThreadsPerConnection: joined,
      concurrentJoinsPerConnection: integer(
        'limits.concurrentJoinsPerConnection',
        limits.concurrentJoinsPerConnection,
        4,
        1,
        10_000,
      ),
      connectionsPerUser: integer(
        'limits.connectionsPerUser',
        limits.connectionsPerUser,
        20,
        1,
        1_000_000,
      ),
      autoRegisteredThreadsPerUser: integer(
        'limits.autoRegisteredThreadsPerUser',
        limits.autoRegisteredThreadsPerUser,
        1_000,
        1,
        10_000_000,
      ),
    },
    sse: { heartbeatMs: integer('sse.heartbeatMs', sse.heartbeatMs, 15_000, 100, 600_000) },
    backpressure: {
      highWaterBytes,
      maxBufferedBytes,
      stallTimeoutMs: integer(
        'backpressure.stallTimeoutMs',
        backpressure.stallTimeoutMs,
        30_000,
        100,
      ),
    },
    gateway: {
      namespace,
      path,
      corsOrigins: resolveCors(gateway.corsOrigins),
      pingIntervalMs,
      pingTimeoutMs,
      maxPayloadBytes,
    },
    delivery: {
      maxEventBytes,
      unavailableTimeoutMs: integer(
        'delivery.unavailableTimeoutMs',
        delivery.unavailableTimeoutMs,
        5_000,
        10,
      ),
      replicaAcks,
    },
    liveness: { heartbeatMs, ttlMs },
    debug: { adminToken: adminToken ?? null, allowLoopbackWithoutToken },
    producer: {
      apiKeys: resolveProducerKeys(producer.apiKeys, adminToken),
      maxBodyBytes: producerMaxBodyBytes,
    },
    onUserMessage: optionalFunction('onUserMessage', input.onUserMessage),
    logger: input.logger,
  };
}
