/**
 * The bodies of random producer requests: near-valid registrations, events and batches
 * (targets of anyone, run-form ids, payloads above `delivery.maxEventBytes`), random JSON,
 * broken text and bodies above `producer.maxBodyBytes`.
 */
import {
  bareObject,
  bigString,
  deepNesting,
  idChars,
  percentEncode,
  randomJson,
  randomString,
  RawJson,
  toJsonText,
  type Rng,
} from './fuzz-input.js';
import { pickThreadId, RUN_SUFFIX, type Fixture } from './fixture.js';
import type { Json } from './json.js';
import { mutate } from './payload-fields.js';
import type { ProducerRoute } from './producer-cases.js';

/** The fuzz app's `producer.maxBodyBytes`: bodies above it are refused before any route. */
export const PRODUCER_MAX_BODY_BYTES = 128 * 1024;

/** Idempotency keys from a small pool, so repeats (answered as duplicates) are common. */
export function pickIdempotencyKey(rng: Rng): unknown {
  return rng.weighted<() => unknown>([
    [60, () => `fz-idem-${rng.int(12)}`],
    [15, () => `fz-idem-${idChars(rng, rng.range(1, 30))}`],
    [5, () => idChars(rng, 201)],
    [10, () => randomString(rng, 30)],
    [10, () => randomJson(rng, 1)],
  ])();
}

function pickEventType(rng: Rng): unknown {
  return rng.weighted<() => unknown>([
    [70, () => `fz.${idChars(rng, rng.range(1, 20)).replace(/@/g, '_')}`],
    [8, () => 'e'.repeat(rng.range(100, 101))],
    [14, () => randomString(rng, 30)],
    [8, () => randomJson(rng, 1)],
  ])();
}

function pickPayload(rng: Rng): unknown {
  return rng.weighted<() => unknown>([
    [76, () => randomJson(rng, 4)],
    [5, () => bigString(rng, rng.range(66_000, 70_000))],
    [4, () => deepNesting(rng.range(1000, 20_000))],
    [5, () => new RawJson(rng.pick(['1e400', '-0', '1E-400', '123456789012345678901234567890']))],
    [5, () => bareObject([['__proto__', { polluted: true }]])],
    [5, () => undefined],
  ])();
}

/** A target of a send: anyone's thread or run, a run-form id, or no valid id. */
function pickTarget(rng: Rng, fx: Fixture): unknown {
  const user = rng.pick(fx.users);
  if (rng.chance(0.08)) return `${rng.pick(fx.threadsOf.get(user) ?? [])}${RUN_SUFFIX}`;
  if (rng.chance(0.04)) return 'T_run_1700000000000_abcdef';
  return pickThreadId(rng, fx, user, true).id;
}

/** An event's fields; a batch's items seldom carry big payloads, which only cost time there. */
function eventFields(rng: Rng, inBatch = false): Json {
  const event = bareObject();
  if (rng.chance(0.95)) event.type = pickEventType(rng);
  event.payload = inBatch && rng.chance(0.9) ? randomJson(rng, 3) : pickPayload(rng);
  if (rng.chance(0.3)) event.idempotencyKey = pickIdempotencyKey(rng);
  return event;
}

function metadata(rng: Rng): unknown {
  return rng.weighted<() => unknown>([
    [
      50,
      () =>
        bareObject([
          ['source', 'fuzz'],
          ['n', rng.int(100)],
          ['flag', true],
          ['x', null],
        ]),
    ],
    [10, () => bareObject(Array.from({ length: 33 }, (_, i) => [`k${i}`, i] as [string, unknown]))],
    [10, () => bareObject([['long', 'v'.repeat(1001)]])],
    [5, () => bareObject([['', 'empty key']])],
    [10, () => bareObject([['nested', { a: 1 }]])],
    [15, () => randomJson(rng, 2)],
  ])();
}

function valueFor(rng: Rng, route: ProducerRoute, fx: Fixture): unknown {
  switch (route) {
    case 'producer:thread': {
      const body = bareObject([
        [
          'ownerId',
          rng.weighted<() => unknown>([
            [60, () => rng.pick(fx.users)],
            [15, () => `fz-owner-${idChars(rng, 6)}`],
            [25, () => pickThreadId(rng, fx, rng.pick(fx.users), true).id],
          ])(),
        ],
      ]);
      if (rng.chance(0.4)) body.metadata = metadata(rng);
      return mutate(rng, body);
    }
    case 'producer:run':
      return mutate(rng, bareObject([['threadId', pickTarget(rng, fx)]]));
    case 'producer:send':
      return mutate(rng, eventFields(rng));
    case 'producer:user': {
      const event = eventFields(rng);
      if (rng.chance(0.8)) delete event.idempotencyKey;
      return mutate(rng, event);
    }
    case 'producer:batch': {
      const count = rng.weighted<() => number>([
        [75, () => rng.range(1, 10)],
        [5, () => 0],
        [12, () => rng.range(11, 40)],
        [2, () => 500],
        [3, () => 501],
      ])();
      const events = Array.from({ length: count }, () => {
        if (rng.chance(0.05)) return randomJson(rng, 1);
        const item = eventFields(rng, true);
        if (rng.chance(0.97)) item.target = pickTarget(rng, fx);
        return mutate(rng, item);
      });
      if (rng.chance(0.04)) return bareObject([['events', randomJson(rng, 1)]]);
      return mutate(rng, bareObject([['events', events]]));
    }
    case 'producer:delivery':
      return randomJson(rng, 2);
  }
}

export function producerBody(
  rng: Rng,
  route: ProducerRoute,
  fx: Fixture,
): { headers: Record<string, string>; body?: Buffer } {
  const contentType = rng.weighted<string | undefined>([
    [80, 'application/json'],
    [5, 'application/x-www-form-urlencoded'],
    [4, 'text/plain'],
    [3, 'application/json; charset=utf-16'],
    [4, undefined],
    [4, percentEncode(randomString(rng, 20)) || 'x'],
  ]);
  const headers: Record<string, string> = contentType ? { 'content-type': contentType } : {};
  const text = rng.chance(0.9)
    ? toJsonText(valueFor(rng, route, fx))
    : toJsonText(randomJson(rng, 4));
  const raw = rng.weighted<() => string | undefined>([
    [88, () => text],
    [3, () => text.slice(0, rng.int(text.length))],
    [2, () => `${text}garbage`],
    [2, () => rng.pick(['', 'null', '"str"', '1e308', '[1,2', '{"a":}', '{"type":"a","type":1}'])],
    [2, () => `{"events":[${'{"target":"x","type":"t","payload":0},'.repeat(3500)}0]}`],
    [2, () => `{"type":"fz.big","payload":"${'z'.repeat(PRODUCER_MAX_BODY_BYTES)}"}`],
    [1, () => undefined],
  ])();
  return { headers, ...(raw === undefined ? {} : { body: Buffer.from(raw) }) };
}
