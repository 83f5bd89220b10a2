/**
 * Seeded random input for fuzz tests: a mulberry32 PRNG, JSON values of random shape and
 * depth (with number literals JSON.stringify cannot write, `__proto__` keys and deep
 * nesting), strings from several alphabets, and a serializer that writes them as JSON text.
 */

/** mulberry32: small, fast, and the same sequence for the same seed on every platform. */
export class Rng {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  /** A new independent stream, so adding cases to one generator does not shift another. */
  fork(label: string): Rng {
    let hash = this.seed ^ 0x9e3779b9;
    for (let i = 0; i < label.length; i++) hash = Math.imul(hash ^ label.charCodeAt(i), 0x01000193);
    return new Rng(hash >>> 0);
  }

  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** 0 .. n-1 */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** min .. max, both included */
  range(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(items.length)] as T;
  }

  /** Picks by weight: `[[weight, value], ...]`. */
  weighted<T>(table: ReadonlyArray<readonly [number, T]>): T {
    const total = table.reduce((sum, [w]) => sum + w, 0);
    let roll = this.next() * total;
    for (const [w, value] of table) {
      roll -= w;
      if (roll < 0) return value;
    }
    return (table[table.length - 1] as readonly [number, T])[1];
  }
}

/** A seed from `FUZZ_SEED` (a number, or `random`), else the given default. */
export function fuzzSeed(fallback: number): number {
  const raw = process.env.FUZZ_SEED;
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'random') return Math.floor(Math.random() * 2 ** 32);
  const value = Number(raw);
  if (!Number.isInteger(value)) throw new Error(`FUZZ_SEED must be an integer or "random"`);
  return value >>> 0;
}

/** JSON text written as is: number literals like `1e400` or `-0`, or deep nesting. */
export class RawJson {
  constructor(readonly text: string) {}
}

/** JSON text of `value`; RawJson pieces are inlined, undefined object members are left out. */
export function toJsonText(value: unknown): string {
  if (value instanceof RawJson) return value.text;
  if (value === null || value === undefined) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      return Object.is(value, -0) ? '-0' : (JSON.stringify(value) ?? 'null');
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((item) => toJsonText(item)).join(',')}]`;
      const record = value as Record<string, unknown>;
      const members = Object.keys(record)
        .filter((key) => record[key] !== undefined)
        .map((key) => `${JSON.stringify(key)}:${toJsonText(record[key])}`);
      return `{${members.join(',')}}`;
    }
    default:
      return 'null';
  }
}

/** An object without a prototype, so `__proto__` is an ordinary key of it. */
export function bareObject(entries: Array<[string, unknown]> = []): Record<string, unknown> {
  const object = Object.create(null) as Record<string, unknown>;
  for (const [key, value] of entries) object[key] = value;
  return object;
}

const ID_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:@-';
const ASCII = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join('');
const CONTROL = ['\u0000', '\u0001', '\t', '\n', '\r', '\u001b', '\u007f', '\u0085'];
const UNICODE = [
  'é',
  'ß',
  'Ω',
  '中',
  '文',
  'ﷺ',
  '🙂',
  '👩‍👩‍👧',
  '𝔘',
  '\u202e', // right-to-left override
  '\u0301', // combining accent
  '\ufeff', // byte order mark
  '\u2028',
  '\u2029',
  '\ud800', // lone high surrogate
  '\udfff', // lone low surrogate
  '\uffff',
  '１', // fullwidth digit
  '٣', // Arabic-Indic digit
];
const SPECIAL_STRINGS = [
  '',
  ' ',
  'null',
  'undefined',
  'NaN',
  '-NaN',
  'Infinity',
  '-0',
  '0x10',
  '1e308',
  '01',
  ' 1',
  '1 ',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  '../../etc/passwd',
  '%2e%2e%2f',
  '<script>alert(1)</script>',
  "' OR 1=1 --",
  '${jndi:ldap://x}',
  '{{7*7}}',
  '\\',
  '"',
  '{}',
  '[]',
  '*',
  '?',
  '#',
  '{thread}',
];

export function idChars(rng: Rng, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ID_CHARS.charAt(rng.int(ID_CHARS.length));
  return out;
}

/** A random string: id-safe, printable ASCII, control characters, unicode, or a mix. */
export function randomString(rng: Rng, maxLength = 40): string {
  if (rng.chance(0.15)) return rng.pick(SPECIAL_STRINGS);
  const length = rng.chance(0.05) ? rng.range(maxLength, maxLength * 4) : rng.int(maxLength + 1);
  const style = rng.int(5);
  let out = '';
  for (let i = 0; i < length; i++) {
    const which = style === 4 ? rng.int(4) : style;
    if (which === 0) out += ID_CHARS.charAt(rng.int(ID_CHARS.length));
    else if (which === 1) out += ASCII.charAt(rng.int(ASCII.length));
    else if (which === 2) out += rng.pick(CONTROL);
    else out += rng.pick(UNICODE);
  }
  return out;
}

/** A string of exactly `length` characters, built from a random chunk (fast at 200 KB). */
export function bigString(rng: Rng, length: number): string {
  const chunk = rng.chance(0.5) ? 'x' : randomString(rng, 16) || 'y';
  return chunk.repeat(Math.ceil(length / chunk.length)).slice(0, length);
}

export const SPECIAL_NUMBERS: ReadonlyArray<number | RawJson> = [
  0,
  -0,
  1,
  -1,
  1.5,
  0.1,
  -1.5,
  2 ** 31,
  -(2 ** 31),
  2 ** 32,
  Number.MAX_SAFE_INTEGER,
  Number.MAX_SAFE_INTEGER + 1,
  -Number.MAX_SAFE_INTEGER,
  1e21,
  1e308,
  -1e308,
  5e-324,
  Number.EPSILON,
  new RawJson('1e400'),
  new RawJson('-1e400'),
  new RawJson('1E-400'),
  new RawJson('-0.0'),
  new RawJson('1.0'),
  new RawJson('100000000000000000000000000000000000001'),
];

export function randomNumber(rng: Rng): number | RawJson {
  if (rng.chance(0.5)) return rng.pick(SPECIAL_NUMBERS);
  return rng.chance(0.5) ? rng.range(-1000, 1_000_000) : (rng.next() - 0.5) * 10 ** rng.int(20);
}

const KEYS = [
  'threadId',
  'lastSeq',
  'epoch',
  'seq',
  'text',
  'clientMessageId',
  'token',
  'type',
  'payload',
  'runId',
  '__proto__',
  'constructor',
  'prototype',
  'toJSON',
  'then',
  'length',
  '',
];

/** A JSON value of random type and depth; objects may carry `__proto__` or `constructor` keys. */
export function randomJson(rng: Rng, depth = 3): unknown {
  const kind = rng.int(depth > 0 ? 8 : 5);
  switch (kind) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return randomNumber(rng);
    case 3:
    case 4:
      return randomString(rng);
    case 5:
      if (rng.chance(0.03)) return deepNesting(rng.range(100, 3000));
      return Array.from({ length: rng.int(5) }, () => randomJson(rng, depth - 1));
    default: {
      const object = bareObject();
      const members = rng.int(5);
      for (let i = 0; i < members; i++) {
        const key = rng.chance(0.6) ? rng.pick(KEYS) : randomString(rng, 12);
        object[key] = randomJson(rng, depth - 1);
      }
      return object;
    }
  }
}

/** `[[[...]]]` nested `depth` times, as text (building it as values would need the stack). */
export function deepNesting(depth: number, open = '[', close = ']'): RawJson {
  return new RawJson(open.repeat(depth) + close.repeat(depth));
}

/** Percent-encodes the UTF-8 bytes of `text` (lone surrogates become U+FFFD, as encoders do). */
export function percentEncode(text: string, keep = /[A-Za-z0-9_.~-]/): string {
  let out = '';
  for (const char of text) {
    if (keep.test(char)) out += char;
    else
      for (const byte of Buffer.from(char, 'utf8'))
        out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** A short, readable rendering of a fuzz input for failure reports: long strings are cut. */
export function describeValue(value: unknown, max = 400): string {
  const seen = new WeakSet<object>();
  const text = JSON.stringify(value, (_key, item: unknown) => {
    if (item instanceof RawJson) {
      return item.text.length > 60
        ? `<raw ${item.text.slice(0, 30)}...(${item.text.length} chars)>`
        : `<raw ${item.text}>`;
    }
    if (typeof item === 'string' && item.length > 80) {
      return `${item.slice(0, 60)}...(${item.length} chars)`;
    }
    if (Buffer.isBuffer(item)) return `<Buffer ${item.length} bytes>`;
    if (typeof item === 'object' && item !== null) {
      if (seen.has(item)) return '<cycle>';
      seen.add(item);
    }
    if (typeof item === 'number' && Object.is(item, -0)) return '<-0>';
    return item;
  });
  const out = text ?? String(value);
  return out.length > max ? `${out.slice(0, max)}...(${out.length} chars)` : out;
}
