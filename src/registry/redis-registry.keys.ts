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
 * | `<p>thread_leases`         | zset   | leased threadId -> lease end (ms)                  | lease sweep, adoption |
 * | `<p>thread_leases:sweep`   | string | lock: one instance sweeps at a time               | TTL (one sweep period) |
 * | `<p>user:{U}:threads`      | set    | thread ids owned by user U                         | its thread's removal; lease sweep |
 * | `<p>user:{U}:leased`       | set    | leased (auto-registered) thread ids of user U, for the per-user cap | idem, and pruned when the cap is hit |
 * | `<p>user:{U}:conns`        | set    | connection ids of user U                           | disconnect, dead-instance sweep |
 * | `<p>conn:{C}`              | hash   | userId, instanceId, transport, connectedAt, lastSeenAt | disconnect, dead-instance sweep |
 * | `<p>conn:{C}:threads`      | set    | thread ids connection C joined                     | idem |
 * | `<p>connections`           | hash   | connectionId -> instanceId (paged with HSCAN)      | idem |
 * | `<p>instances`             | hash   | instanceId -> last heartbeat (ms)                  | the instance's leave or dead-instance sweep |
 * | `<p>instance:{I}`          | string | liveness key, expires (PX) when heartbeats stop    | TTL |
 * | `<p>instance:{I}:conns`    | set    | connection ids held by instance I                  | leave, dead-instance sweep |
 *
 * `redis-cli HGETALL thread_registry` therefore lists every thread and its owner. The
 * per-id keys are the truth; the global hashes are indexes written after each decision.
 * A thread and a run under the same id share a slot (`{id}`), which is what lets one
 * script refuse an id that is already the other. Ids cannot contain braces (see
 * `thread-id.ts`), and neither may the prefix, or the tags would break.
 */
export class RedisRegistryKeys {
  readonly threadRegistry: string;
  readonly threadLeases: string;
  readonly sweepLock: string;
  readonly connections: string;
  readonly instances: string;

  constructor(readonly prefix = '') {
    if (/[{}]/.test(prefix)) {
      throw new InvalidOptionError(
        'keyPrefix',
        'must not contain "{" or "}": they would change the hash tags of per-thread keys',
      );
    }
    this.threadRegistry = `${prefix}thread_registry`;
    this.threadLeases = `${prefix}thread_leases`;
    this.sweepLock = `${prefix}thread_leases:sweep`;
    this.connections = `${prefix}connections`;
    this.instances = `${prefix}instances`;
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
