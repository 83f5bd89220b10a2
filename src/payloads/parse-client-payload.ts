import type { z } from 'zod';
import { BadRequestError } from '../errors/bad-request.error.js';

/** Parses untrusted input, turning the first problem into one BAD_REQUEST message. */
export function parseClientPayload<S extends z.ZodType>(
  schema: S,
  input: unknown,
  event: string,
): z.infer<S> {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new BadRequestError(`${event} expects an object payload`);
  }
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  throw new BadRequestError(`${event}: ${where}${issue?.message ?? 'invalid payload'}`);
}
