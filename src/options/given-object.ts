import { z } from 'zod';

/**
 * Anything `typeof` calls an object, arrays included: the `routes` extra and the producer's
 * options have always been taken so and read key by key (`pickKeys`), so an empty array reads
 * as no options at all. `path` names the refused value where the caller's own name is not one.
 */
export function givenObject(message: string, path: PropertyKey[] = []) {
  return z.custom<object>((value) => typeof value === 'object' && value !== null, {
    error: message,
    path,
    abort: true,
  });
}

/**
 * The named keys of an object, read as `value[key]` reads them (through the prototype, and off
 * an array too), into a plain object that a `z.object` shape can check; one that is undefined
 * is left out, so it counts as absent.
 */
export function pickKeys<Key extends string>(keys: readonly Key[]) {
  return (value: object): Partial<Record<Key, unknown>> => {
    const picked: Partial<Record<Key, unknown>> = {};
    for (const key of keys) {
      const given = (value as Partial<Record<Key, unknown>>)[key];
      if (given !== undefined) picked[key] = given;
    }
    return picked;
  };
}
