import type { LogState } from '../delivery/message-log.interface.js';
import { decodeEventBody, type EventBody } from '../events/thread-event.codec.js';
import { asArray, asInteger, asString } from './redis-replies.js';

/** Reads the message log's replies: its transactions, state, stream entries and stored events. */

export function toState(epoch: unknown, head: unknown, length: unknown): LogState {
  const headSeq = asInteger(head, 'head');
  return {
    epoch: asString(epoch, 'epoch'),
    headSeq,
    firstSeq: headSeq - asInteger(length, 'stream length') + 1,
  };
}

export function seqOfStreamId(id: unknown): number {
  const text = asString(id, 'stream id');
  const seq = Number(text.slice(0, text.indexOf('-')));
  if (!Number.isSafeInteger(seq) || seq < 1) throw new Error(`Unexpected stream id ${text}`);
  return seq;
}

/** A stream entry's field list `[name, value, ...]` as a lookup. */
export function streamFields(value: unknown, what: string): Map<string, string> {
  const flat = asArray(value, what);
  const fields = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) {
    fields.set(asString(flat[i], what), asString(flat[i + 1], what));
  }
  return fields;
}

export function decodeBody(fields: Map<string, string>, seq: number, threadId: string): EventBody {
  return decodeEventBody(
    fields.get('e'),
    `Stored event ${seq} of thread ${JSON.stringify(threadId)}`,
  );
}
