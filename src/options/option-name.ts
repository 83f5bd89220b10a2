import type { z } from 'zod';
import { InvalidOptionError } from '../errors/invalid-option.error.js';

/**
 * The path segment under `redis` for an ioredis Cluster the application passed in: what is
 * refused there was set on that Cluster's own options, so the name points at the instance,
 * as in `redis (the Cluster passed in).scaleReads`.
 */
export const PASSED_CLUSTER = Symbol('the Cluster passed in');

/** `['limits', 'clientEvents', 'burst']` -> `limits.clientEvents.burst`; `['redis', 'cluster', 0]` -> `redis.cluster[0]`. */
export function optionName(path: readonly PropertyKey[]): string {
  let name = '';
  for (const segment of path) {
    if (typeof segment === 'number') name += `[${segment}]`;
    else if (segment === PASSED_CLUSTER) name += ` (${PASSED_CLUSTER.description})`;
    else name += name === '' ? String(segment) : `.${String(segment)}`;
  }
  return name === '' ? '(options)' : name;
}

/**
 * The first issue as the module's error; every message of the options schema is written to
 * follow the option's name. (A failed parse always has an issue; the fallback is for the type.)
 */
export function invalidOptionError(error: z.core.$ZodError): InvalidOptionError {
  const [first] = error.issues;
  return new InvalidOptionError(optionName(first?.path ?? []), first?.message ?? 'is invalid');
}
