import type { Cluster, Redis } from 'ioredis';

/**
 * A standalone ioredis client or a Redis Cluster client. Both speak the same commands;
 * what differs is that on a cluster one script, pipeline or transaction may touch the keys
 * of one hash slot only, and pub/sub is sharded (SPUBLISH/SSUBSCRIBE).
 */
export type RedisClient = Redis | Cluster;

/** ioredis marks its Cluster instances; checked by property so a second copy of ioredis works too. */
export function isClusterClient(client: unknown): client is Cluster {
  return (client as { isCluster?: unknown } | null)?.isCluster === true;
}

/** The command that publishes to a channel: sharded on a cluster (the channel's slot only). */
export function publishCommandOf(client: RedisClient): 'PUBLISH' | 'SPUBLISH' {
  return isClusterClient(client) ? 'SPUBLISH' : 'PUBLISH';
}
