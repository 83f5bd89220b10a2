/**
 * Values for the fields of socket and HTTP payloads: sequence numbers, epochs, message
 * texts, client message ids and refresh tokens, near-valid or not, and a payload mutator.
 */
import {
  bareObject,
  bigString,
  idChars,
  randomJson,
  randomNumber,
  randomString,
  type Rng,
} from './fuzz-input.js';
import type { Fixture } from './fixture.js';
import type { Json } from './json.js';

export function pickSeq(rng: Rng, head: number): unknown {
  return rng.weighted<() => unknown>([
    [20, () => head],
    [8, () => Math.max(0, head - 1)],
    [6, () => head + 1],
    [8, () => 0],
    [10, () => randomNumber(rng)],
    [3, () => Number.MAX_SAFE_INTEGER],
    [3, () => -1],
    [3, () => 1.5],
    [6, () => rng.pick<unknown>(['5', '', null, true, [], {}, 'NaN', '-0', '1e308'])],
  ])();
}

export function pickEpoch(rng: Rng, known: string | undefined): unknown {
  return rng.weighted<() => unknown>([
    [25, () => known ?? ''],
    [8, () => randomString(rng, 20)],
    [3, () => ''],
    [3, () => 'e'.repeat(64)],
    [3, () => 'e'.repeat(65)],
    [4, () => rng.pick<unknown>([null, 0, 1, true, [], {}])],
  ])();
}

export function pickText(rng: Rng): unknown {
  return rng.weighted<() => unknown>([
    [60, () => randomString(rng, 80) || 'hello'],
    [6, () => ''],
    [4, () => bigString(rng, rng.range(1_000, 20_000))],
    [2, () => bigString(rng, rng.range(65_000, 66_000))],
    [2, () => bigString(rng, rng.range(100_000, 200_000))],
    [3, () => '\ud800'.repeat(rng.range(1, 10))],
    [10, () => randomJson(rng, 2)],
  ])();
}

export function pickClientMessageId(rng: Rng): unknown {
  return rng.weighted<() => unknown>([
    [60, () => `cm-${idChars(rng, rng.range(1, 20))}`],
    [6, () => `cm-dup-${rng.int(4)}`],
    [4, () => idChars(rng, 100)],
    [4, () => idChars(rng, 101)],
    [8, () => randomString(rng, 30)],
    [6, () => randomJson(rng, 1)],
  ])();
}

/** The `token` of an `auth:refresh`: the connection's own, another user's, or junk. */
export function pickRefreshToken(rng: Rng, fx: Fixture, userId: string): unknown {
  return rng.weighted<() => unknown>([
    [30, () => fx.tokens.get(userId)],
    [15, () => fx.tokens.get(rng.pick(fx.users.filter((u) => u !== userId)))],
    [25, () => rng.pick(fx.badTokens)],
    [10, () => randomString(rng, 100)],
    [5, () => 'x'.repeat(8193)],
    [10, () => randomJson(rng, 1)],
  ])();
}

/** Adds, drops or corrupts fields of a near-valid payload now and then. */
export function mutate(rng: Rng, payload: Json): unknown {
  if (rng.chance(0.12)) {
    const key = rng.pick(['__proto__', 'constructor', 'prototype', 'toString', 'extra']);
    payload[key] = rng.chance(0.5) ? bareObject([['threadId', 'x']]) : randomJson(rng, 2);
  }
  if (rng.chance(0.06)) {
    const keys = Object.keys(payload);
    if (keys.length > 0) delete payload[rng.pick(keys)];
  }
  if (rng.chance(0.04)) return [payload];
  return payload;
}
