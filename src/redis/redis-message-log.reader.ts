import type { RedisClient } from './redis-client.js';
import type { ThreadEvent } from '../protocol.js';
import { toThreadEvent } from '../events/thread-event.codec.js';
import { assertReadWindow } from '../delivery/message-log.rules.js';
import type { HistorySlice } from '../delivery/message-log.interface.js';
import type { RedisKeys } from './redis-keys.js';
import { decodeBody, seqOfStreamId, streamFields, toState } from './redis-message-log.replies.js';
import { asArray, exec } from './redis-replies.js';

/**
 * Most bytes one XRANGE may return, judged by the largest event the log ever held: Redis
 * answers a command whole before it serves anyone else, so a read of many large events is
 * cut into commands of about this size.
 */
const READ_CHUNK_BYTES = 1024 * 1024;

/** Reads a thread's message log from its stream, in chunks sized by its largest event. */
export class RedisLogReader {
  constructor(
    private readonly client: RedisClient,
    private readonly keys: RedisKeys,
    private readonly maxEventBytes: number,
  ) {}

  /**
   * Plain commands in MULTI, not a script: a script's reply is copied into Lua and back,
   * which for large events holds Redis many times longer than the XRANGE itself. The first
   * transaction reads the state (with the largest event size the log ever held) and a
   * first chunk sized for the worst case; later chunks are sized by that largest event, and
   * each checks the epoch so a log replaced meanwhile is never mixed in.
   */
  async read(
    threadId: string,
    afterSeq: number,
    limit: number,
    maxBytes?: number,
  ): Promise<HistorySlice> {
    assertReadWindow(afterSeq, limit);
    const [metaKey, logKey] = this.keys.threadLogKeys(threadId);
    const chunkFor = (largest: number) =>
      Math.max(1, Math.floor(Math.min(READ_CHUNK_BYTES, maxBytes ?? Infinity) / largest));
    const first = Math.min(limit, chunkFor(this.maxEventBytes));
    const head = this.client.multi().hmget(metaKey, 'epoch', 'head', 'maxb').xlen(logKey);
    if (first > 0) head.xrange(logKey, `${afterSeq + 1}-0`, '+', 'COUNT', first);
    const [meta, length, entries] = await exec(head, 'read');
    const [epoch, headSeq, largest] = asArray(meta, 'read state');
    if (epoch === null || epoch === undefined) {
      return { epoch: '', headSeq: 0, firstSeq: 1, events: [] };
    }
    const state = toState(epoch, headSeq, length);
    const events: ThreadEvent[] = [];
    let bytes = 0;
    let cursor = afterSeq;
    let batch: unknown[] = first > 0 ? asArray(entries, 'read entries') : [];
    const chunk = chunkFor(Math.max(1, Number(largest ?? 0) || this.maxEventBytes));
    for (;;) {
      for (const entry of batch) {
        const [id, fields] = asArray(entry, 'stream entry');
        const seq = seqOfStreamId(id);
        const body = streamFields(fields, `entry ${seq}`);
        const size = Buffer.byteLength(body.get('e') ?? '', 'utf8');
        if (maxBytes !== undefined && bytes + size > maxBytes && events.length > 0) {
          return bounded({ ...state, events }, maxBytes, bytes);
        }
        bytes += size;
        events.push(toThreadEvent(threadId, seq, state.epoch, decodeBody(body, seq, threadId)));
        cursor = seq;
      }
      const wanted = Math.min(limit - events.length, chunk);
      if (batch.length === 0 || wanted <= 0 || cursor >= state.headSeq) {
        return bounded({ ...state, events }, maxBytes, bytes);
      }
      const [again, more] = await exec(
        this.client
          .multi()
          .hget(metaKey, 'epoch')
          .xrange(logKey, `${cursor + 1}-0`, '+', 'COUNT', wanted),
        'read',
      );
      // Replaced between two chunks: what was read is of the epoch it says; stop there.
      if (again !== state.epoch) return bounded({ ...state, events }, maxBytes, bytes);
      batch = asArray(more, 'read entries');
    }
  }
}

/** The bytes read go with a bounded read only: that is where callers pay for them. */
function bounded(slice: HistorySlice, maxBytes: number | undefined, bytes: number): HistorySlice {
  return maxBytes === undefined ? slice : { ...slice, bytes };
}
