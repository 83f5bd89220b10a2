/** The socket events the fuzz sends: known events with near-valid or random payloads, or unknown names. */
import { bareObject, randomJson, randomString, type Rng } from './fuzz-input.js';
import { pickThreadId, type Fixture, type IdKind } from './fixture.js';
import type { Json } from './json.js';
import {
  mutate,
  pickClientMessageId,
  pickEpoch,
  pickRefreshToken,
  pickSeq,
  pickText,
} from './payload-fields.js';

/** The client events the relay serves. */
export const KNOWN_EVENTS = [
  'thread:join',
  'thread:leave',
  'thread:ack',
  'user:message',
  'auth:refresh',
];

export interface SocketCase {
  event: unknown;
  args: unknown[];
  ack: boolean;
  /** For the isolation oracle: the thread the payload names, if any. */
  threadId?: unknown;
}

/** One socket case for `userId` on a connection that has joined `joined`. */
export function socketCase(
  rng: Rng,
  fx: Fixture,
  userId: string,
  joined: Set<string>,
  ackOnly: boolean,
): SocketCase {
  const ack = ackOnly || rng.chance(0.6);
  const shape = rng.weighted<'near' | 'random' | 'unknown'>([
    [70, 'near'],
    [17, 'random'],
    [13, 'unknown'],
  ]);
  if (shape === 'unknown') {
    const event = rng.weighted<() => unknown>([
      [30, () => randomString(rng, 30)],
      [
        30,
        () =>
          rng.pick([
            'thread:JOIN',
            'thread:join ',
            ' thread:join',
            'thread:event',
            'relay:error',
            'relay:session',
            'user:event',
            'thread:reset',
            'message',
            'error',
            '__proto__',
            'constructor',
            'hasOwnProperty',
            'toString',
            'valueOf',
            'then',
            '',
            '*',
          ]),
      ],
      [5, () => 'e'.repeat(rng.range(100, 10_000))],
    ])();
    return { event, args: rng.chance(0.8) ? [randomJson(rng)] : [], ack };
  }
  const event = rng.pick(KNOWN_EVENTS);
  if (shape === 'random') {
    const args = rng.chance(0.1) ? [] : [randomJson(rng, 3)];
    return { event, args, ack };
  }
  const pickJoined = () =>
    joined.size > 0 && rng.chance(0.6)
      ? { id: rng.pick([...joined]) as unknown, kind: 'own' as IdKind }
      : pickThreadId(rng, fx, userId, true);
  let payload: Json;
  let threadId: unknown;
  switch (event) {
    case 'thread:join': {
      ({ id: threadId } = pickThreadId(rng, fx, userId, true));
      const known = typeof threadId === 'string' ? fx.logs.get(threadId) : undefined;
      payload = bareObject([['threadId', threadId]]);
      if (rng.chance(0.5)) payload.lastSeq = pickSeq(rng, known?.head ?? 0);
      if (rng.chance(0.5)) payload.epoch = pickEpoch(rng, known?.epoch);
      break;
    }
    case 'thread:leave':
      ({ id: threadId } = pickJoined());
      payload = bareObject([['threadId', threadId]]);
      break;
    case 'thread:ack': {
      ({ id: threadId } = pickJoined());
      const known = typeof threadId === 'string' ? fx.logs.get(threadId) : undefined;
      payload = bareObject([
        ['threadId', threadId],
        ['seq', pickSeq(rng, known?.head ?? 0)],
      ]);
      if (rng.chance(0.7)) payload.epoch = pickEpoch(rng, known?.epoch);
      break;
    }
    case 'user:message':
      ({ id: threadId } = pickThreadId(rng, fx, userId, true));
      payload = bareObject([
        ['threadId', threadId],
        ['text', pickText(rng)],
        ['clientMessageId', pickClientMessageId(rng)],
      ]);
      break;
    default:
      payload = bareObject([['token', pickRefreshToken(rng, fx, userId)]]);
  }
  const args: unknown[] = [mutate(rng, payload)];
  if (rng.chance(0.05)) args.push(randomJson(rng, 1), 'extra');
  if (rng.chance(0.02)) args.length = 0;
  return { event, args, ack, threadId };
}
