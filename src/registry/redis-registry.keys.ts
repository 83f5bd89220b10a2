import { InvalidOptionError } from '../errors/invalid-option.error.js';

/**
 * Redis key layout of the registry (`<p>` is the configured key prefix, empty by default).
 *
 * | key                           | type   | content                                             |
 * | ----------------------------- | ------ | --------------------------------------------------- |
 * | `<p>thread_registry`          | hash   | threadId -> owner userId (the claim is decided here) |
 * | `<p>run_registry`             | hash   | runId -> threadId (set once)                        |
 * | `<p>thread:{T}`               | hash   | ownerId, createdAt (ms), metadata (JSON)            |
 * | `<p>thread:{T}:runs`          | set    | run ids of thread T                                 |
 * | `<p>thread:{T}:conns`         | set    | connection ids joined to thread T                   |
 * | `<p>thread:{T}:delivered`     | hash   | userId -> `<epoch>:<highest acknowledged seq>`      |
 * | `<p>user:{U}:threads`         | set    | thread ids owned by user U                          |
 * | `<p>user:{U}:conns`           | set    | connection ids of user U                            |
 * | `<p>conn:{C}`                 | hash   | userId, instanceId, transport, connectedAt, lastSeenAt |
 * | `<p>conn:{C}:threads`         | set    | thread ids connection C joined                      |
 * | `<p>connections`              | hash   | connectionId -> instanceId (paged with HSCAN)       |
 * | `<p>instances`                | hash   | instanceId -> last heartbeat (ms)                   |
 * | `<p>instance:{I}`             | string | liveness key, expires (PX) when heartbeats stop     |
 * | `<p>instance:{I}:conns`       | set    | connection ids held by instance I                   |
 *
 * `redis-cli HGETALL thread_registry` therefore lists every thread and its owner.
 * Keys about one thread, user, connection or instance share a `{...}` hash tag, so each
 * Lua script that touches several of them stays in one Redis Cluster slot; the global
 * hashes are only ever touched alone. Ids cannot contain braces (see `thread-id.ts`),
 * and neither may the prefix, or the tags would break.
 */
export class RedisRegistryKeys {
  readonly threadRegistry: string;
  readonly runRegistry: string;
  readonly connections: string;
  readonly instances: string;

  constructor(readonly prefix = '') {
    if (/[{}]/.test(prefix)) {
      throw new InvalidOptionError(
        'redis.keyPrefix',
        'must not contain "{" or "}": they would change the hash tags of per-thread keys',
      );
    }
    this.threadRegistry = `${prefix}thread_registry`;
    this.runRegistry = `${prefix}run_registry`;
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

  userThreads(userId: string): string {
    return `${this.prefix}user:{${userId}}:threads`;
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
