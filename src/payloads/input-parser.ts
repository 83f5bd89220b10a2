import type { z } from 'zod';
import { BadRequestError } from '../errors/bad-request.error.js';

/** How a parser words what it refuses; `what` names the input (an event, `request body`). */
export interface InputWording {
  notAnObject(what: string): string;
  /** The first problem zod found; `input` is the object that was parsed. */
  problem(what: string, issue: z.core.$ZodIssue | undefined, input: object): string;
}

/** Parses untrusted input, which must be a JSON object, into a schema's shape. */
export type InputParser = <S extends z.ZodType>(
  schema: S,
  input: unknown,
  what: string,
) => z.infer<S>;

/**
 * A parser that turns the first problem into one BAD_REQUEST, worded for its callers:
 * socket events and HTTP bodies say where a problem is in their own way.
 */
export function inputParser(wording: InputWording): InputParser {
  return (schema, input, what) => {
    if (input === null || typeof input !== 'object' || Array.isArray(input)) {
      throw new BadRequestError(wording.notAnObject(what));
    }
    const result = schema.safeParse(input);
    if (result.success) return result.data;
    throw new BadRequestError(wording.problem(what, result.error.issues[0], input));
  };
}
