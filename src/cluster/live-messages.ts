import { hasEventFields } from '../events/thread-event.codec.js';
import { LiveEvent } from './live-event.js';
import type {
  AccessChange,
  AccessChangeReason,
  DeliveredNotice,
  UserEvent,
} from './cluster-bus.js';

/**
 * Messages on the channels of `redis/redis-keys.ts` (in memory, the same kinds). A
 * thread's live channel carries `e<seq>\n<epoch>\n<stored body JSON>` for an event
 * (written by the append script, which has exactly these pieces at hand, so Redis never
 * builds JSON) and `a<reason>` for an access change. An acks channel carries
 * `<epoch>\n<cursor>\n<userId>` (written by the cursor script); a user channel the
 * event's JSON.
 */
const REASONS: readonly AccessChangeReason[] = [
  'unregistered',
  'expired',
  'registered',
  'revalidate',
];

export type ThreadMessage =
  { kind: 'event'; event: LiveEvent } | { kind: 'access'; change: AccessChange };

export function encodeAccessChange(change: AccessChange): string {
  return `a${change.reason}`;
}

export function decodeThreadMessage(threadId: string, message: string): ThreadMessage {
  if (message.startsWith('a')) {
    const reason = message.slice(1) as AccessChangeReason;
    if (!REASONS.includes(reason)) throw new Error(`unknown access change ${message.slice(0, 40)}`);
    return { kind: 'access', change: { threadId, reason } };
  }
  if (!message.startsWith('e')) throw new Error(`unknown thread message ${message.slice(0, 40)}`);
  const first = message.indexOf('\n');
  const second = first < 0 ? -1 : message.indexOf('\n', first + 1);
  if (second < 0) throw new Error('truncated event message');
  const seq = Number(message.slice(1, first));
  if (!Number.isSafeInteger(seq) || seq < 1) throw new Error('event message without a seq');
  const epoch = message.slice(first + 1, second);
  return {
    kind: 'event',
    event: LiveEvent.stored(threadId, seq, epoch, message.slice(second + 1)),
  };
}

export function decodeDelivered(threadId: string, message: string): DeliveredNotice {
  const first = message.indexOf('\n');
  const second = first < 0 ? -1 : message.indexOf('\n', first + 1);
  if (second < 0) throw new Error('truncated cursor message');
  const cursor = Number(message.slice(first + 1, second));
  if (!Number.isSafeInteger(cursor) || cursor < 0) throw new Error('cursor message without a seq');
  return { threadId, epoch: message.slice(0, first), cursor, userId: message.slice(second + 1) };
}

export function encodeUserEvent(event: UserEvent): string {
  return JSON.stringify(event);
}

export function decodeUserEvent(userId: string, message: string): UserEvent {
  const parsed: unknown = JSON.parse(message);
  if (hasEventFields(parsed)) {
    return { ...(parsed as unknown as UserEvent), userId };
  }
  throw new Error('user message is not an event');
}
