import type { z } from 'zod';
import { BadRequestError } from '../../errors/bad-request.error.js';

/**
 * Parses untrusted input into `schema`'s shape, turning the first problem into one
 * BAD_REQUEST that says where (`events[3]: payload is required`). The schemas' messages
 * name their field; a deeper path is added so a nested mistake can be found.
 */
export function parseInput<S extends z.ZodType>(
  schema: S,
  input: unknown,
  what: string,
): z.infer<S> {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new BadRequestError(`${what} must be a JSON object`);
  }
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const at = issue && issue.path.length > 1 ? ` (at ${issue.path.join('.')})` : '';
  // Express hands a route without a body an empty object; say so rather than "type is missing".
  const empty = Object.keys(input).length === 0 ? ' is empty or missing; ' : ': ';
  throw new BadRequestError(`${what}${empty}${issue?.message ?? 'invalid'}${at}`);
}
