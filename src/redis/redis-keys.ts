import { InvalidOptionError } from '../errors/invalid-option.error.js';

/**
 * Redis key layout of the registry (`<p>` is the configured key prefix, empty by default).
 *
 * | key                        | type   | content                                            | removed by |
 * | -------------------------- | ------ | -------------------------------------------------- | ---------- |
 * | `<p>thread:{T}`            | hash   | ownerId, createdAt (ms), metadata (JSON), `auto` while leased; the claim is decided here | `unregisterThread`; a leased thread's TTL |
 * | `<p>thread:{T}:runs`       | set    | run ids of thread T                                | its thread's removal or sweep |
 * | `<p>thread:{T}:conns`      | set    | connection ids joined to thread T                  | leave, disconnect, dead-instance sweep |
 * | `<p>thread:{T}:delivered`  | hash   | userId -> `<epoch>:<highest acknowledged seq>`      | TTL `history.ttlSeconds` after the last ack; its thread's removal |
 * | `<p>run:{R}`               | string | thread id of run R (the mapping is decided here)   | `unregisterRun`; its thread's removal or sweep |
 * | `<p>thread_registry`       | hash   | threadId -> owner userId (index for operators and listings) | its thread's removal; lease sweep |
 * | `<p>thread_leases:{B}`      | zset   | leased threadId -> lease end (ms), bucket B of 16 | lease sweep, adoption |
 * | `<p>thread_leases:sweep`   | string | lock: one instance sweeps at a time               | TTL (one sweep period) |
 * | `<p>user:{U}:threads`      | set    | thread ids owned by user U                         | its thread's removal; lease sweep |
 * | `<p>user:{U}:leased`       | set    | leased (auto-registered) thread ids of user U, for the per-user cap | idem, and pruned when the cap is hit |
 * | `<p>user:{U}:conns`        | set    | connection ids of user U                           | disconnect, dead-instance sweep |
 * | `<p>conn:{C}`              | hash   | userId, instanceId, transport, connectedAt, lastSeenAt | disconnect, dead-instance sweep |
 * | `<p>conn:{C}:threads`      | set    | thread ids connection C joined                     | idem |
 * | `<p>connections:{B}`        | hash   | connectionId -> instanceId, bucket B of 16 (paged with HSCAN) | idem |
 * | `<p>instances`             | hash   | instanceId -> last heartbeat (ms)                  | the instance's leave or dead-instance sweep |
 * | `<p>instance:{I}`          | string | liveness key, expires (PX) when heartbeats stop    | TTL |
 * | `<p>instance:{I}:conns`    | set    | connection ids held by instance I                  | leave, dead-instance sweep |
 *
 * `redis-cli HGETALL thread_registry` therefore lists every thread and its owner. The
 * indexes written on every connect, disconnect and auto-registration are split in 16
 * buckets (`B` = `0`..`15`, by a hash of the id), each its own hash tag, so on Redis Cluster
 * they spread over the masters instead of making one slot hot. The
 * per-id keys are the truth; the global hashes are indexes written after each decision.
 * A thread and a run under the same id share a slot (`{id}`), which is what lets one
 * script refuse an id that is already the other. Ids cannot contain braces (see
 * `thread-id.ts`), and neither may the prefix, or the tags would break.
 */
export class RedisRegistryKeys {
  readonly threadRegistry: string;
  readonly sweepLock: string;
  readonly instances: string;

  constructor(readonly prefix = '') {
    if (/[{}]/.test(prefix)) {
      throw new InvalidOptionError(
        'keyPrefix',
        'must not contain "{" or "}": they would change the hash tags of per-thread keys',
      );
    }
    this.threadRegistry = `${prefix}thread_registry`;
    this.sweepLock = `${prefix}thread_leases:sweep`;
    this.instances = `${prefix}instances`;
  }

  /** The bucket of `connections` that indexes this connection. */
  connections(connectionId: string): string {
    return this.connectionsBucket(indexBucketOf(connectionId));
  }

  connectionsBucket(bucket: number): string {
    return `${this.prefix}connections:{${bucket}}`;
  }

  /** The bucket of `thread_leases` that holds this thread's lease end. */
  threadLeases(threadId: string): string {
    return this.threadLeasesBucket(indexBucketOf(threadId));
  }

  threadLeasesBucket(bucket: number): string {
    return `${this.prefix}thread_leases:{${bucket}}`;
  }

  thread(threadId: string): string {
    return `${this.prefix}thread:{${threadId}}`;
  }

  threadRuns(threadId: string): string {
    return `${this.thread(threadId)}:runs`;
  }

  threadConns(threadId: string): string {
    return `${this.thread(threadId)}:conns`;
  }

  threadDelivered(threadId: string): string {
    return `${this.thread(threadId)}:delivered`;
  }

  run(runId: string): string {
    return `${this.prefix}run:{${runId}}`;
  }

  userThreads(userId: string): string {
    return `${this.prefix}user:{${userId}}:threads`;
  }

  userLeased(userId: string): string {
    return `${this.prefix}user:{${userId}}:leased`;
  }

  userConns(userId: string): string {
    return `${this.prefix}user:{${userId}}:conns`;
  }

  conn(connectionId: string): string {
    return `${this.prefix}conn:{${connectionId}}`;
  }

  connThreads(connectionId: string): string {
    return `${this.conn(connectionId)}:threads`;
  }

  instance(instanceId: string): string {
    return `${this.prefix}instance:{${instanceId}}`;
  }

  instanceConns(instanceId: string): string {
    return `${this.instance(instanceId)}:conns`;
  }
}

/** How many keys each bucketed global index is split into. */
export const INDEX_BUCKETS = 16;

/** FNV-1a over the id's UTF-16 code units: stable across processes and versions. */
export function indexBucketOf(id: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    hash ^= id.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % INDEX_BUCKETS;
}
