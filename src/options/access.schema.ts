import { z } from 'zod';
import { got, integer, section } from './option-primitives.js';

/** Keys longer than this are refused: a bearer token is one header line, not a file. */
const MAX_PRODUCER_KEY_CHARS = 1024;
const MAX_PRODUCER_KEYS = 100;

const notToken = 'must be a string of at least 16 characters';

/** A shared secret a caller sends as a bearer token (admin, metrics): 16+ characters. */
export const bearerSecret = z.string({ error: notToken }).min(16, { error: notToken });

/** `debug`: who may open `/debug/websocket/*`. */
export const debugSection = section({
  adminToken: bearerSecret.optional(),
  allowLoopbackWithoutToken: z.boolean({ error: got('must be a boolean') }).default(false),
});

/**
 * A producer key is a bearer token, so it must be guessable by nobody (16+ characters) and
 * sendable in an Authorization header (no whitespace). That it differs from the admin token
 * (a producer key opens only the producer routes) is checked in `relay-options.schema.ts`.
 */
const producerKey = z
  .string({ error: got('must be a string') })
  .refine((key) => key.length >= 16 && key.length <= MAX_PRODUCER_KEY_CHARS, {
    error: (issue) =>
      `must be 16-${MAX_PRODUCER_KEY_CHARS} characters (a shorter key can be guessed), got ${(issue.input as string).length}`,
  })
  .refine((key) => !/\s/.test(key), {
    error: 'must not contain whitespace (it is sent as "Authorization: Bearer <key>")',
  });

/** `producer`: the HTTP producer API (`/v1/*`). */
export const producerSection = section({
  apiKeys: z
    .array(producerKey, { error: got('must be an array of strings') })
    .max(MAX_PRODUCER_KEYS, {
      error: (issue) =>
        `must hold at most ${MAX_PRODUCER_KEYS} keys, got ${(issue.input as unknown[]).length}`,
    })
    .default(() => []),
  /** Defaults from `delivery.maxEventBytes`: see `relay-options.schema.ts`. */
  maxBodyBytes: integer(1024, 256 * 1024 * 1024).optional(),
});
