import { InvalidOptionError } from '../errors/invalid-option.error.js';

/**
 * Redis key layout of the message logs (`<p>` is the configured key prefix, empty by default).
 *
 * | key                 | type   | content                                                        |
 * | ------------------- | ------ | -------------------------------------------------------------- |
 * | `<p>thread:{T}:meta` | hash   | `epoch` (16 hex chars), `head` (last assigned seq), `maxb` (largest event), `ttlAt` (ms, last TTL renewal) |
 * | `<p>thread:{T}:log`  | stream | one entry per event, id `<seq>-0`; field `e` = JSON `{ id, type, payload, runId?, ts }`, field `k` = its idempotency key: the caller's, else `#<event id>` |
 * | `<p>thread:{T}:idem` | hash   | idempotency key -> seq of the event it created                 |
 *
 * `seq`, `epoch` and `threadId` are not repeated inside `e`: the stream id, the meta hash
 * and the key name already hold them. The stream is trimmed to exactly `maxPerThread`
 * entries (`XADD MAXLEN`), so the lowest stored seq is `head - XLEN + 1`; idempotency
 * keys of trimmed entries are removed with them, which bounds the `idem` hash too.
 * Every event has a key (its own id when the caller gave none), so an append that ioredis
 * resends after a lost reply finds its first run instead of storing the event twice.
 * All three keys get the TTL `ttlSeconds` again together, on an append at least a
 * hundredth of it after the last renewal (the log lives that long after its last append,
 * less at most 1%); `ensure()` gives a new, empty meta hash the same TTL.
 *
 * The three keys of a thread share the hash tag `{T}`, so the append and read scripts,
 * which touch all of them, stay in one Redis Cluster slot. The prefix may not contain
 * braces, or it would become the tag of every thread. These names do not collide with
 * the registry's `thread:{T}`, `thread:{T}:runs`, ... keys (`redis-registry.keys.ts`).
 */
export class RedisMessageLogKeys {
  constructor(readonly prefix = '') {
    if (/[{}]/.test(prefix)) {
      throw new InvalidOptionError(
        'keyPrefix',
        'must not contain "{" or "}": they would change the hash tags of per-thread keys',
      );
    }
  }

  meta(threadId: string): string {
    return `${this.prefix}thread:{${threadId}}:meta`;
  }

  log(threadId: string): string {
    return `${this.prefix}thread:{${threadId}}:log`;
  }

  idem(threadId: string): string {
    return `${this.prefix}thread:{${threadId}}:idem`;
  }

  /** In the order the Lua scripts expect them as KEYS. */
  forThread(threadId: string): [meta: string, log: string, idem: string] {
    return [this.meta(threadId), this.log(threadId), this.idem(threadId)];
  }
}
