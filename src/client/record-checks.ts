/**
 * Checks of unknown values, the parts the wire guards are built from: a field is checked
 * by a `Check`, a record by the `guard` of its fields.
 */

export type Check = (value: unknown) => boolean;

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A guard for records that have every listed field, each passing its check. Keyed by `T`'s
 * fields, so a misspelt one does not compile; fields left out (optional ones) are not checked.
 */
export function guard<T>(fields: { readonly [K in keyof T]?: Check }): (
  value: unknown,
) => value is T {
  const checks = Object.entries<Check | undefined>(fields);
  return (value: unknown): value is T =>
    isRecord(value) &&
    checks.every(([key, check]) => key in value && (check === undefined || check(value[key])));
}

export function isString(value: unknown): value is string {
  return typeof value === 'string';
}

export function isNumber(value: unknown): value is number {
  return typeof value === 'number';
}

export function isFiniteNumber(value: unknown): value is number {
  return isNumber(value) && Number.isFinite(value);
}

/** Any value: the field only has to be there (a payload may be null). */
export function isPresent(): boolean {
  return true;
}

export function oneOf(...values: readonly unknown[]): Check {
  return (value) => values.includes(value);
}

export function arrayOf(check: Check): Check {
  return (value) => Array.isArray(value) && value.every(check);
}
