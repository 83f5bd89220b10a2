import { InvalidOptionError } from '../errors/invalid-option.error.js';

/**
 * Pub/sub channel names (`<p>` is the key prefix). A thread's channels carry its hash tag
 * `{T}` like its keys, so in Redis Cluster the scripts that write a thread's keys publish
 * on the same shard (`SPUBLISH`) and a subscriber listens to one node per thread.
 *
 * | channel               | messages                                            |
 * | --------------------- | --------------------------------------------------- |
 * | `<p>thread:{T}:live`  | the thread's appended events, and its access changes |
 * | `<p>thread:{T}:acks`  | the thread's delivered-cursor notices               |
 * | `<p>user:{U}:live`    | events for every connection of user U               |
 */
export class ClusterChannels {
  constructor(readonly prefix = '') {
    if (/[{}]/.test(prefix)) {
      throw new InvalidOptionError(
        'keyPrefix',
        'must not contain "{" or "}": they would change the hash tags of per-thread keys',
      );
    }
  }

  threadLive(threadId: string): string {
    return `${this.prefix}thread:{${threadId}}:live`;
  }

  threadAcks(threadId: string): string {
    return `${this.prefix}thread:{${threadId}}:acks`;
  }

  userLive(userId: string): string {
    return `${this.prefix}user:{${userId}}:live`;
  }

  /** What a channel of this layout is for, and whose; null for any other channel. */
  parse(channel: string): { kind: 'thread' | 'acks' | 'user'; id: string } | null {
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
}
