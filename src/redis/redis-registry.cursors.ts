import type { RedisClient } from './redis-client.js';
import { toError } from '../errors/to-error.js';
import { CursorRaiseBatch, type CursorRaise } from './cursor-raise-batch.js';
import type { RedisKeys } from './redis-keys.js';
import { RAISE_CURSOR } from './redis-registry.scripts.js';
import { asString } from './redis-replies.js';

/** Where each cursor raise is published, in the raise itself (producers wait on it). */
export interface CursorAnnouncements {
  channelOf: (threadId: string) => string;
  command: string;
}

/**
 * Delivered cursors: `thread:{T}:delivered` maps each user to `<epoch>:<seq>`. Raises are
 * batched per event-loop turn (`CursorRaiseBatch`) and each written by one script that
 * keeps the cursor monotonic within its epoch.
 */
export class RedisDeliveredCursors {
  private readonly cursorRaises = new CursorRaiseBatch((raises) => this.writeCursorRaises(raises));

  constructor(
    private readonly client: RedisClient,
    private readonly keys: RedisKeys,
    /** Cursors live this long after their last raise. */
    private readonly deliveredTtlSeconds: number,
    private readonly announceCursors: CursorAnnouncements | undefined,
  ) {}

  recordDelivered(threadId: string, userId: string, seq: number, epoch: string): Promise<number> {
    return this.cursorRaises.raise(threadId, userId, seq, epoch);
  }

  async deliveredCursors(threadId: string, epoch: string): Promise<Record<string, number>> {
    const hash = await this.client.hgetall(this.keys.thread(threadId, 'delivered'));
    const cursors: Record<string, number> = {};
    for (const [userId, value] of Object.entries(hash)) {
      const sep = value.lastIndexOf(':');
      if (sep > 0 && value.slice(0, sep) === epoch) cursors[userId] = Number(value.slice(sep + 1));
    }
    return cursors;
  }

  /** Writes the pending raises now rather than after this turn's I/O phase (shutdown). */
  flush(): void {
    this.cursorRaises.flush();
  }

  /**
   * One EVALSHA per raise, issued back to back. Not an ioredis pipeline: a pipeline object
   * per batch made the process spend about five times as long in young-generation GC
   * (measured with appends, see RedisConnections), for a few saved write syscalls.
   */
  private writeCursorRaises(raises: CursorRaise[]): void {
    for (const raise of raises) {
      RAISE_CURSOR.run(
        this.client,
        [this.keys.thread(raise.threadId, 'delivered')],
        [
          raise.userId,
          String(raise.seq),
          raise.epoch,
          this.deliveredTtlSeconds,
          this.announceCursors?.channelOf(raise.threadId) ?? '',
          this.announceCursors?.command ?? 'PUBLISH',
        ],
      ).then(
        (after) => settleWithReply(raise, after),
        (error: unknown) => raise.settle(toError(error), 0),
      );
    }
  }
}

/** The script answers the stored cursor as a string, so large seqs keep every digit. */
function settleWithReply(raise: CursorRaise, reply: unknown): void {
  try {
    raise.settle(null, Number(asString(reply)));
  } catch (error) {
    raise.settle(toError(error), 0);
  }
}
