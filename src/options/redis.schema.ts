import type { Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis';
import { z } from 'zod';
import { isClusterClient } from '../redis/redis-client.js';
import type { ResolvedRelayOptions } from '../thread-relay.options.js';
import { PASSED_CLUSTER } from './option-name.js';
import {
  describe,
  got,
  isObject,
  mustBeObject,
  oneOf,
  parseUrl,
  type OptionForm,
} from './option-primitives.js';

type ResolvedRedis = ResolvedRelayOptions['redis'];

/** More seed nodes than any real cluster has masters and replicas would be a mistake. */
const MAX_CLUSTER_SEEDS = 1_000;

function looksLikeRedisClient(value: unknown): boolean {
  const candidate = value as { duplicate?: unknown; sendCommand?: unknown };
  return typeof candidate.duplicate === 'function' && typeof candidate.sendCommand === 'function';
}

const redisUrl = z.string().superRefine((value, ctx) => {
  const url = parseUrl(value);
  if (!url) {
    ctx.addIssue({ code: 'custom', message: `is not a parseable URL: ${describe(value)}` });
  } else if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    ctx.addIssue({
      code: 'custom',
      message: `must use the redis:// or rediss:// scheme, got "${url.protocol}"`,
    });
  } else if (!url.hostname) {
    ctx.addIssue({ code: 'custom', message: `has no host: ${describe(value)}` });
  }
});

const notHost = got('must be a host name or address');
const notPort = got('must be an integer from 1 to 65535');
const notSeedList = got('must be a non-empty array of { host, port } seed nodes');

const seedNode = z.object(
  {
    host: z
      .string({ error: notHost })
      .refine((host) => host.trim() !== '' && host.length <= 255, { error: notHost }),
    port: z
      .number({ error: notPort })
      .refine((port) => Number.isInteger(port) && port >= 1 && port <= 65_535, {
        error: notPort,
      }),
  },
  { error: got('must be { host, port }') },
);

const seedNodes = z
  .array(seedNode, { error: notSeedList })
  .min(1, { error: notSeedList })
  .max(MAX_CLUSTER_SEEDS, {
    error: (issue) =>
      `lists ${(issue.input as unknown[]).length} seed nodes; at most ${MAX_CLUSTER_SEEDS} (a few per cluster suffice)`,
  });

/**
 * Cluster options the module cannot work with: ioredis prefixes the keys of a command, and a
 * cluster's shard channels count as keys, but not the channels the scripts publish to (an
 * argument), so live events would go unheard (the module's own `keyPrefix` prefixes both);
 * reads from replicas could miss a thread just created or call a live instance dead.
 */
function refuseUnworkableClusterOptions(
  options: Record<string, unknown>,
  ctx: z.RefinementCtx,
  at: PropertyKey[],
): void {
  const redisOptions = (options.redisOptions ?? {}) as Record<string, unknown>;
  if (options.keyPrefix !== undefined || redisOptions.keyPrefix !== undefined) {
    ctx.addIssue({
      code: 'custom',
      path: [...at, 'keyPrefix'],
      message:
        'is not supported on a cluster: use the module option `keyPrefix`, which also prefixes the channels',
    });
  } else if (options.scaleReads !== undefined && options.scaleReads !== 'master') {
    ctx.addIssue({
      code: 'custom',
      path: [...at, 'scaleReads'],
      message: `must be 'master' (the default): the registry and the log read what they just wrote, which a replica may not have yet`,
    });
  }
}

/** Kept as given (never copied): ioredis reads functions and TLS material from it. */
const clusterOptions = z
  .custom<ClusterOptions>(isObject, { error: mustBeObject })
  .default(() => ({}))
  .superRefine((options, ctx) =>
    refuseUnworkableClusterOptions(options as Record<string, unknown>, ctx, []),
  );

const clusterConfig = z.strictObject(
  { cluster: seedNodes, options: clusterOptions },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `with \`cluster\` takes only \`options\` beside it (ioredis ClusterOptions), got ${issue.keys.map((key) => `\`${key}\``).join(', ')}`
        : undefined,
  },
);

const passedCluster = z
  .custom<Cluster>()
  .superRefine((cluster, ctx) =>
    refuseUnworkableClusterOptions(cluster.options as Record<string, unknown>, ctx, [
      PASSED_CLUSTER,
    ]),
  );

/** The `redis` option's forms, most specific first: a client is an object too. */
const forms: OptionForm<ResolvedRedis>[] = [
  {
    matches: (value) => value === undefined || value === null,
    schema: z.unknown().transform(() => ({ kind: 'none' as const })),
  },
  {
    matches: (value) => typeof value === 'string',
    schema: redisUrl.transform((url) => ({ kind: 'url' as const, url })),
  },
  {
    matches: (value) => isObject(value) && isClusterClient(value),
    schema: passedCluster.transform((client) => ({ kind: 'cluster-client' as const, client })),
  },
  {
    matches: (value) => isObject(value) && looksLikeRedisClient(value),
    schema: z.custom<Redis>().transform((client) => ({ kind: 'client' as const, client })),
  },
  {
    matches: (value) => isObject(value) && 'cluster' in value,
    schema: clusterConfig.transform(({ cluster, options }) => ({
      kind: 'cluster' as const,
      nodes: cluster,
      options,
    })),
  },
  {
    matches: isObject,
    schema: z
      .custom<RedisOptions>()
      .transform((options) => ({ kind: 'options' as const, options })),
  },
];

export const redisOption = oneOf(
  forms,
  got(
    'must be a URL, ioredis options, an ioredis client, { cluster: [...] } or an ioredis Cluster',
  ),
);
