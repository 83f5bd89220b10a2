/** The bodies of random POST requests: near-valid or random JSON, broken text, forms, encodings. */
import { gzipSync } from 'node:zlib';
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
import { pickThreadId, type Fixture } from './fixture.js';
import type { RouteName } from './http-cases.js';
import type { Json } from './json.js';
import { mutate, pickClientMessageId, pickText } from './payload-fields.js';

export function bodyFor(rng: Rng, route: RouteName, fx: Fixture, userId: string | undefined) {
  const contentType = rng.weighted<string | undefined>([
    [70, 'application/json'],
    [5, 'application/json; charset=utf-8'],
    [3, 'application/json; charset=iso-8859-1'],
    [2, 'application/json; charset=utf-16'],
    [3, 'text/plain'],
    [5, 'application/x-www-form-urlencoded'],
    [2, 'multipart/form-data; boundary=x'],
    [2, 'application/xml'],
    [3, undefined],
    [2, 'application/json, text/plain'],
    [2, percentEncode(randomString(rng, 20)) || 'x'],
  ]);
  const headers: Record<string, string> = contentType ? { 'content-type': contentType } : {};
  let value: unknown;
  if (route === 'history:post') {
    value = bareObject([
      ['text', pickText(rng)],
      ['clientMessageId', pickClientMessageId(rng)],
    ]);
    if (rng.chance(0.1)) {
      (value as Json).threadId = pickThreadId(rng, fx, userId ?? rng.pick(fx.users), true).id;
    }
    value = mutate(rng, value as Json);
  } else {
    const target = pickThreadId(rng, fx, userId ?? rng.pick(fx.users), true).id;
    const body = bareObject();
    const targetKey = rng.weighted<string>([
      [60, 'threadId'],
      [30, 'runId'],
      [10, 'both'],
    ]);
    if (targetKey === 'both') {
      body.threadId = rng.chance(0.5) ? null : target;
      body.runId = fx.runOf.get(rng.pick(fx.users));
    } else body[targetKey] = target;
    if (rng.chance(0.95)) {
      body.type = rng.weighted<() => unknown>([
        [60, () => `fz.${idChars(rng, rng.range(1, 20)).replace(/@/g, '_')}`],
        [10, () => 'e'.repeat(rng.range(100, 101))],
        [20, () => randomString(rng, 30)],
        [10, () => randomJson(rng, 1)],
      ])();
    }
    if (rng.chance(0.95)) {
      body.payload = rng.weighted<() => unknown>([
        [70, () => randomJson(rng, 4)],
        [5, () => bigString(rng, rng.range(60_000, 70_000))],
        [5, () => deepNesting(rng.range(1000, 20_000))],
        [
          5,
          () => new RawJson(rng.pick(['1e400', '-0', '1E-400', '123456789012345678901234567890'])),
        ],
        [5, () => bareObject([['__proto__', { polluted: true }]])],
      ])();
    }
    value = mutate(rng, body);
  }
  const text = rng.chance(0.85) ? toJsonText(value) : toJsonText(randomJson(rng, 4));
  const raw = rng.weighted<() => string | Buffer | undefined>([
    [84, () => text],
    [3, () => text.slice(0, rng.int(text.length))],
    [2, () => `${text}garbage`],
    [
      2,
      () =>
        rng.pick([
          '',
          'null',
          '"str"',
          '1e308',
          'NaN',
          '[1,2',
          '{"a":}',
          '\u0000',
          '{"text":"a","text":1}',
        ]),
    ],
    [
      2,
      () => deepNesting(rng.range(1000, 30_000), '{"a":', '}').text.replace(/}+$/, (m) => `1${m}`),
    ],
    [2, () => `{"text":"${'z'.repeat(rng.range(110_000, 200_000))}","clientMessageId":"big"}`],
    [2, () => Array.from({ length: rng.range(900, 1200) }, (_, i) => `k${i}=${i}`).join('&')],
    [1, () => `a${'[b]'.repeat(rng.range(20, 40))}=1`],
    [
      1,
      () =>
        `text=${percentEncode(randomString(rng, 20)) || 'hi'}&clientMessageId=cm-form-${rng.int(1000)}`,
    ],
    [1, () => Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0x80, 0xc0])],
    [1, () => undefined],
  ])();
  if (rng.chance(0.03)) {
    headers['content-encoding'] = rng.pick([
      'gzip',
      'deflate',
      'br',
      'identity',
      'compress',
      'x-fuzz',
    ]);
    if (headers['content-encoding'] === 'gzip' && rng.chance(0.5) && raw !== undefined) {
      return { headers, body: gzipSync(raw) };
    }
  }
  return {
    headers,
    body: raw === undefined ? undefined : Buffer.isBuffer(raw) ? raw : Buffer.from(raw),
  };
}
