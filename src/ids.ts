import { InvalidIdError } from './errors/invalid-id.error.js';

/** Longest id accepted anywhere; longer input is refused before it reaches a store or a log line. */
export const MAX_ID_LENGTH = 200;

/**
 * Ids travel in Redis key names, URLs and log lines, so they are limited to a safe
 * alphabet. Braces are excluded because they would break the `{threadId}` hash tag.
 */
const ID_PATTERN = /^[A-Za-z0-9_.:@-]+$/;

/**
 * `<threadId>_run_<epochMillis>_<hex>`. The thread part is greedy so a thread id that
 * itself contains `_run_` resolves to the longest prefix, which is the producer's
 * convention: the run suffix is always the last `_run_<digits>_<hex>`.
 */
const RUN_ID_PATTERN = /^(.+)_run_(\d{10,16})_([0-9a-fA-F]{4,64})$/;

export interface ParsedRunId {
  threadId: string;
  startedAt: number;
  suffix: string;
}

/** Throws `InvalidIdError` unless `value` is a usable id; returns it typed as a string. */
export function assertValidId(value: unknown, field = 'id'): string {
  if (typeof value !== 'string') {
    throw new InvalidIdError(field, value, 'must be a string');
  }
  if (value.length === 0) throw new InvalidIdError(field, value, 'must not be empty');
  if (value.length > MAX_ID_LENGTH) {
    throw new InvalidIdError(field, value, `must be at most ${MAX_ID_LENGTH} characters`);
  }
  if (!ID_PATTERN.test(value)) {
    throw new InvalidIdError(field, value, 'may only contain letters, digits and _ . : @ -');
  }
  return value;
}

export function isValidId(value: unknown): value is string {
  return (
    typeof value === 'string' &&
    value.length > 0 &&
    value.length <= MAX_ID_LENGTH &&
    ID_PATTERN.test(value)
  );
}

/** Splits a run id of the conventional form; `null` for anything else (including invalid ids). */
export function parseRunId(value: unknown): ParsedRunId | null {
  if (!isValidId(value)) return null;
  const match = RUN_ID_PATTERN.exec(value);
  if (!match) return null;
  const [, threadId, millis, suffix] = match;
  if (threadId === undefined || millis === undefined || suffix === undefined) return null;
  return { threadId, startedAt: Number(millis), suffix };
}

/**
 * Whether `value` has the run form `<x>_run_<digits>_<hex>`. Such ids are reserved for
 * runs: a thread registered under one would capture the events a producer sends to the
 * run of another thread (its form resolves to that thread's id).
 */
export function isRunFormId(value: unknown): boolean {
  return parseRunId(value) !== null;
}

/** Makes a run id in the conventional form, for producers (and the demo agent) that need one. */
export function makeRunId(threadId: string, now = Date.now(), randomHex?: string): string {
  const hex =
    randomHex ??
    Array.from(crypto.getRandomValues(new Uint8Array(4)), (b) =>
      b.toString(16).padStart(2, '0'),
    ).join('');
  return `${assertValidId(threadId, 'threadId')}_run_${now}_${hex}`;
}
