/** The reference server's environment, read once and checked, so a bad value stops startup with a clear message. */
export interface ServerConfig {
  port: number;
  redisUrl: string | undefined;
  /** REDIS_CLUSTER_NODES, `host:port,host:port`: seed nodes of a Redis Cluster (exclusive with REDIS_URL). */
  redisClusterNodes: { host: string; port: number }[] | undefined;
  jwtSecret: string;
  jwtSecretIsDefault: boolean;
  adminToken: string | undefined;
  /**
   * Debug routes open to clients on this machine without a token: on in development
   * (NODE_ENV other than `production`), off in production, where every client needs
   * RELAY_ADMIN_TOKEN.
   */
  debugLoopbackWithoutToken: boolean;
  /** RELAY_PRODUCER_KEYS, comma separated; unset = the `/v1` producer routes answer 404. */
  producerKeys: string[] | undefined;
  historyTtlSeconds: number | undefined;
  historyMax: number | undefined;
  logLevel: string;
  production: boolean;
}

export const DEV_JWT_SECRET = 'thread-relay-dev-secret-change-me-0123456789';
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export class ConfigError extends Error {}

function positiveInt(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) {
    throw new ConfigError(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  }
  return Number(raw);
}

/**
 * RELAY_PRODUCER_KEYS: comma-separated bearer keys for the HTTP producer API. A bad key
 * stops startup with its position, never its value (the message may reach a log).
 */
function producerKeys(env: NodeJS.ProcessEnv): string[] | undefined {
  const raw = env.RELAY_PRODUCER_KEYS;
  if (raw === undefined || raw.trim() === '') return undefined;
  const keys = raw.split(',').map((key) => key.trim());
  keys.forEach((key, index) => {
    const which = `RELAY_PRODUCER_KEYS key ${index + 1} of ${keys.length}`;
    if (key.length < 16) {
      throw new ConfigError(
        `${which} is ${key.length} characters; each comma-separated key must be at least 16 (a shorter key can be guessed)`,
      );
    }
    if (/\s/.test(key)) throw new ConfigError(`${which} contains whitespace`);
  });
  return keys;
}

/**
 * REDIS_CLUSTER_NODES: comma-separated `host:port` seed nodes (IPv6 as `[addr]:port`).
 * A few suffice: the client learns the rest of the cluster from them.
 */
function redisClusterNodes(env: NodeJS.ProcessEnv): { host: string; port: number }[] | undefined {
  const raw = env.REDIS_CLUSTER_NODES;
  if (raw === undefined || raw.trim() === '') return undefined;
  const entries = raw.split(',').map((entry) => entry.trim());
  if (entries.length > 1000) {
    throw new ConfigError(`REDIS_CLUSTER_NODES lists ${entries.length} nodes; at most 1000`);
  }
  return entries.map((entry, index) => {
    const match = /^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):(\d{1,5})$/.exec(entry);
    const port = Number(match?.[2]);
    if (!match?.[1] || port < 1 || port > 65535) {
      throw new ConfigError(
        `REDIS_CLUSTER_NODES entry ${index + 1} must be host:port (port 1-65535), got ${JSON.stringify(entry.slice(0, 80))}`,
      );
    }
    return { host: match[1].replace(/^\[(.*)\]$/, '$1'), port };
  });
}

export function readServerConfig(env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const production = env.NODE_ENV === 'production';
  const port = positiveInt(env, 'PORT') ?? 8000;
  if (port > 65535) throw new ConfigError(`PORT must be at most 65535, got ${port}`);
  const secret = env.RELAY_JWT_SECRET;
  if (secret !== undefined && secret !== '' && Buffer.byteLength(secret) < 32) {
    throw new ConfigError('RELAY_JWT_SECRET must be at least 32 bytes');
  }
  if (!secret && production) {
    throw new ConfigError('RELAY_JWT_SECRET is required when NODE_ENV=production');
  }
  const adminToken = env.RELAY_ADMIN_TOKEN || undefined;
  if (adminToken !== undefined && adminToken.length < 16) {
    throw new ConfigError('RELAY_ADMIN_TOKEN must be at least 16 characters');
  }
  const logLevel = env.LOG_LEVEL || 'info';
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(
      `LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`,
    );
  }
  const clusterNodes = redisClusterNodes(env);
  if (clusterNodes && env.REDIS_URL) {
    throw new ConfigError(
      'REDIS_URL and REDIS_CLUSTER_NODES are both set; set one (REDIS_CLUSTER_NODES for Redis Cluster)',
    );
  }
  const keys = producerKeys(env);
  if (adminToken !== undefined && keys?.includes(adminToken)) {
    throw new ConfigError(
      'RELAY_PRODUCER_KEYS must not contain RELAY_ADMIN_TOKEN: a producer key opens only the producer routes',
    );
  }
  return {
    port,
    redisUrl: env.REDIS_URL || undefined,
    redisClusterNodes: clusterNodes,
    jwtSecret: secret || DEV_JWT_SECRET,
    jwtSecretIsDefault: !secret,
    adminToken,
    debugLoopbackWithoutToken: !production,
    producerKeys: keys,
    historyTtlSeconds: positiveInt(env, 'RELAY_HISTORY_TTL_SECONDS'),
    historyMax: positiveInt(env, 'RELAY_HISTORY_MAX'),
    logLevel,
    production,
  };
}
