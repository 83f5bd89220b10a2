import { InvalidOptionError } from '../errors/invalid-option.error.js';

/** The keys and channels under `<p>thread:{T}:`. */
export type ThreadPart = 'runs' | 'conns' | 'delivered' | 'meta' | 'log' | 'idem' | 'live' | 'acks';

/** The keys and channels under `<p>user:{U}:` (the user has no key of its own). */
export type UserPart = 'threads' | 'leased' | 'conns' | 'live';

/**
 * The module's whole Redis namespace, keys and pub/sub channels (`<p>` is the configured
 * key prefix, empty by default).
 *
 * | key                        | type   | content                                            | removed by |
 * | -------------------------- | ------ | -------------------------------------------------- | ---------- |
 * | `<p>thread:{T}`            | hash   | ownerId, createdAt (ms), metadata (JSON), `auto` while leased; the claim is decided here | `unregisterThread`; a leased thread's TTL |
 * | `<p>thread:{T}:runs`       | set    | run ids of thread T                                | its thread's removal or sweep |
 * | `<p>thread:{T}:conns`      | set    | connection ids joined to thread T                  | leave, disconnect, dead-instance sweep |
 * | `<p>thread:{T}:meta`     | hash   | the message log's `epoch` (16 hex chars), `head` (last assigned seq), `maxb` (largest event), `ttlAt` (ms, last TTL renewal) | TTL `history.ttlSeconds` after the last append; its thread's removal |
 * | `<p>thread:{T}:log`      | stream | one entry per event, id `<seq>-0`; field `e` = JSON `{ id, type, payload, runId?, ts }`, field `k` = its idempotency key: the caller's, else `#<event id>` | trimmed to `history.maxPerThread`; idem |
 * | `<p>thread:{T}:idem`     | hash   | idempotency key -> seq of the event it created | trimmed with its entry; idem |
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
 * | `<p>ratelimit:{K}`         | hash   | a token bucket (`um:<user>`: a user's messages)     | TTL (once the bucket is full again) |
 * | `<p>ticket:{X}`            | string | a stream ticket's grant (JSON)                     | GETDEL when spent; TTL 60 s |
 *
 * | channel               | messages                                            |
 * | --------------------- | --------------------------------------------------- |
 * | `<p>thread:{T}:live`  | the thread's appended events, and its access changes |
 * | `<p>thread:{T}:acks`  | the thread's delivered-cursor notices               |
 * | `<p>user:{U}:live`    | events for every connection of user U               |
 *
 * Each per-id key is `<p><kind>:{<id>}`, some followed by `:<part>`; `RedisKeys` has one
 * method per kind, with the kind's parts as its type, so no caller spells a key by hand.
 *
 * `redis-cli HGETALL thread_registry` therefore lists every thread and its owner. The
 * indexes written on every connect, disconnect and auto-registration are split in 16
 * buckets (`B` = `0`..`15`, by a hash of the id), each its own hash tag, so on Redis Cluster
 * they spread over the masters instead of making one slot hot. The per-id keys are the
 * truth; the global hashes are indexes written after each decision. A thread and a run
 * under the same id share a slot (`{id}`), which is what lets one script refuse an id that
 * is already the other.
 *
 * Every key and channel of a thread carries its hash tag `{T}`, so the scripts that touch
 * a thread's keys stay in one Redis Cluster slot and publish on that slot's shard
 * (`SPUBLISH`), and a subscriber listens to one node per thread. Ids cannot contain braces
 * (see `ids.ts`), and neither may the prefix, or the tags would break.
 *
 * The message log's stream is trimmed to exactly `maxPerThread` entries (`XADD MAXLEN`),
 * so the lowest stored seq is `head - XLEN + 1`; idempotency keys of trimmed entries are
 * removed with them. Every event has a key (its own id when the caller gave none), so an
 * append that ioredis resends after a lost reply finds its first run instead of storing
 * the event twice. The log's three keys get the TTL again together, on an append at least
 * a hundredth of it after the last renewal; `ensure()` gives a new meta hash the same TTL.
 */
export class RedisKeys {
  readonly threadRegistry: string;
  readonly sweepLock: string;
  readonly instances: string;

  constructor(readonly prefix = '') {
    assertKeyPrefix(prefix);
    this.threadRegistry = `${prefix}thread_registry`;
    this.sweepLock = `${prefix}thread_leases:sweep`;
    this.instances = `${prefix}instances`;
  }

  /** The bucket of `connections` that indexes this connection. */
  connections(connectionId: string): string {
    return this.connectionsBucket(indexBucketOf(connectionId));
  }

  connectionsBucket(bucket: number): string {
    return this.key('connections', String(bucket));
  }

  /** The bucket of `thread_leases` that holds this thread's lease end. */
  threadLeases(threadId: string): string {
    return this.threadLeasesBucket(indexBucketOf(threadId));
  }

  threadLeasesBucket(bucket: number): string {
    return this.key('thread_leases', String(bucket));
  }

  thread(threadId: string, part?: ThreadPart): string {
    return this.key('thread', threadId, part);
  }

  user(userId: string, part: UserPart): string {
    return this.key('user', userId, part);
  }

  conn(connectionId: string, part?: 'threads'): string {
    return this.key('conn', connectionId, part);
  }

  instance(instanceId: string, part?: 'conns'): string {
    return this.key('instance', instanceId, part);
  }

  run(runId: string): string {
    return this.key('run', runId);
  }

  /** A token bucket of `limits` (`um:<user>` for a user's messages). */
  rateLimit(key: string): string {
    return this.key('ratelimit', key);
  }

  /** A single-use stream ticket (`POST /threads/:id/stream-tickets`). */
  streamTicket(ticket: string): string {
    return this.key('ticket', ticket);
  }

  /** A thread's message log keys, in the order its Lua scripts expect them as KEYS. */
  threadLogKeys(threadId: string): [meta: string, log: string, idem: string] {
    return [
      this.thread(threadId, 'meta'),
      this.thread(threadId, 'log'),
      this.thread(threadId, 'idem'),
    ];
  }

  /** What a channel of this layout is for, and whose; null for any other channel. */
  parseChannel(channel: string): { kind: 'thread' | 'acks' | 'user'; id: string } | null {
    if (!channel.startsWith(this.prefix)) return null;
    const rest = channel.slice(this.prefix.length);
    const open = rest.indexOf('{');
    const close = rest.lastIndexOf('}');
    if (open < 0 || close < open) return null;
    const head = rest.slice(0, open);
    const tail = rest.slice(close + 1);
    const id = rest.slice(open + 1, close);
    if (head === 'thread:' && tail === ':live') return { kind: 'thread', id };
    if (head === 'thread:' && tail === ':acks') return { kind: 'acks', id };
    if (head === 'user:' && tail === ':live') return { kind: 'user', id };
    return null;
  }

  private key(kind: string, id: string, part?: string): string {
    const key = `${this.prefix}${kind}:{${id}}`;
    return part === undefined ? key : `${key}:${part}`;
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

/** The prefix is put before every key and channel; braces in it would become their hash tag. */
export function assertKeyPrefix(prefix: string): void {
  if (/[{}]/.test(prefix)) {
    throw new InvalidOptionError(
      'keyPrefix',
      'must not contain "{" or "}": they would change the hash tags of per-thread keys',
    );
  }
}
