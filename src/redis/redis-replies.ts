import type { ChainableCommander } from 'ioredis';

/** Guards for Redis replies: a reply of an unexpected shape is an error, never a silent default. */

/** A pipeline's or transaction's replies, each checked for its own error; `what` names a transaction. */
export async function exec(pipeline: ChainableCommander, what?: string): Promise<unknown[]> {
  const results = await pipeline.exec();
  if (!results) {
    throw new Error(
      what ? `Redis discarded the ${what} transaction` : 'Redis discarded the pipeline',
    );
  }
  return results.map(([error, value]) => {
    if (error) throw error;
    return value;
  });
}

/** `what` names the reply in the error, for replies whose type alone would not say which. */
export function asArray(value: unknown, what?: string): unknown[] {
  if (!Array.isArray(value)) throw unexpected(value, what);
  return value as unknown[];
}

export function asString(value: unknown, what?: string): string {
  if (typeof value !== 'string') throw unexpected(value, what);
  return value;
}

export function asNullableString(value: unknown): string | null {
  return value === null || value === undefined ? null : asString(value);
}

export function asStringArray(value: unknown): string[] {
  if (value === null || value === undefined) return [];
  return asArray(value).map((item) => asString(item));
}

export function asInteger(value: unknown, what?: string): number {
  const number = typeof value === 'string' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isSafeInteger(number)) throw unexpected(value, what);
  return number;
}

export function toPairs(flat: string[]): [string, string][] {
  const pairs: [string, string][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    pairs.push([flat[i] as string, flat[i + 1] as string]);
  }
  return pairs;
}

/** HGETALL arrives as an object through ioredis's reply transformer, even in a pipeline. */
export function asHash(value: unknown): Record<string, string> {
  if (value === null || value === undefined) return {};
  if (Array.isArray(value)) return Object.fromEntries(toPairs(value.map((item) => asString(item))));
  if (typeof value !== 'object') throw new Error(`Unexpected Redis reply: ${typeof value}`);
  const hash: Record<string, string> = {};
  for (const [key, field] of Object.entries(value)) hash[key] = asString(field);
  return hash;
}

function unexpected(value: unknown, what: string | undefined): Error {
  return new Error(`Unexpected Redis reply${what ? ` for ${what}` : `: ${typeof value}`}`);
}
