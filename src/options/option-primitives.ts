import { z } from 'zod';

/** The ceiling of an integer option that names none of its own. */
const MAX_INT = 2 ** 31 - 1;

/** A refused value as an error message shows it: short, and never an object's contents. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.slice(0, 80));
  if (value === null) return 'null';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return typeof value;
}

export function parseUrl(value: string): URL | null {
  try {
    return new URL(value);
  } catch {
    return null;
  }
}

/** Any non-null object that is not an array, as `typeof` sees it. */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An error message that ends with the refused value: `got('must be a boolean')`. */
export const got =
  (reason: string) =>
  (issue: { input?: unknown }): string =>
    `${reason}, got ${describe(issue.input)}`;

export const mustBeObject = got('must be an object');

/** An integer from `min` to `max`; a float, NaN or numeric string is refused, not rounded. */
export function integer(min: number, max = MAX_INT) {
  const notInteger = got('must be an integer');
  return z
    .number({ error: notInteger })
    .refine(Number.isInteger, { error: notInteger, abort: true })
    .refine((value) => value >= min && value <= max, {
      error: (issue) => `must be between ${min} and ${max}, got ${String(issue.input)}`,
    });
}

/**
 * An options section: absent, it takes all its defaults (`prefault` runs `{}` through the
 * shape, where `default` would skip it); anything but an object is refused.
 */
export function section<Shape extends z.ZodRawShape>(shape: Shape) {
  return z.object(shape, { error: mustBeObject }).prefault({} as z.input<z.ZodObject<Shape>>);
}

/** A function the application passes in; `z.custom` hands back the same function, unwrapped. */
export function hook<T>() {
  return z.custom<T>((value) => typeof value === 'function', { error: got('must be a function') });
}

/** `fallback()` stands in for null as well as for absence: these options were always read with `??`. */
export function nullishOr<T extends z.ZodType>(fallback: () => z.input<T>, schema: T) {
  return z.preprocess((value) => value ?? fallback(), schema);
}

export interface OptionForm<T> {
  matches: (value: unknown) => boolean;
  schema: z.ZodType<T>;
}

/**
 * An option that takes one of several forms: the first form `value` matches checks it alone,
 * so a value recognisably of one form hears only that form's complaint (`z.union` would
 * report every form's); a value of no form gets `otherwise`.
 */
export function oneOf<T>(
  forms: readonly OptionForm<T>[],
  otherwise: (issue: { input: unknown }) => string,
) {
  // `z.transform` alone, not `z.unknown().transform`: only the former is run for an absent key.
  return z.transform((value: unknown, ctx): T => {
    const form = forms.find((candidate) => candidate.matches(value));
    if (!form) {
      ctx.addIssue({ code: 'custom', message: otherwise({ input: value }), input: value });
      return z.NEVER;
    }
    const result = form.schema.safeParse(value);
    if (result.success) return result.data;
    for (const issue of result.error.issues) {
      ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path, input: value });
    }
    return z.NEVER;
  });
}
