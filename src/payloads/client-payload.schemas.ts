import { z } from 'zod';
import { isValidId, MAX_ID_LENGTH } from '../ids.js';

/**
 * A coarse bound on `text` before it is measured: the real limit is in bytes of its JSON
 * encoding, derived from `delivery.maxEventBytes` (see `user-message-limits.ts`).
 */
const MAX_TEXT_CHARS = 1_000_000;

/** Longest credential `auth:refresh` accepts. */
export const MAX_TOKEN_CHARS = 8192;

const id = (field: string, max = MAX_ID_LENGTH) =>
  z
    .string({ error: `${field} must be a string` })
    .max(max, `${field} must be at most ${max} characters`)
    .refine(isValidId, `${field} may only contain letters, digits and _ . : @ - (1-${max} chars)`);

const seq = (field: string) =>
  z
    .number({ error: `${field} must be a number` })
    .int(`${field} must be an integer`)
    .min(0, `${field} must not be negative`)
    .max(Number.MAX_SAFE_INTEGER, `${field} is too large`);

const epoch = z.string({ error: 'epoch must be a string' }).max(64, 'epoch is too long').optional();

export const joinSchema = z.object({
  threadId: id('threadId'),
  lastSeq: seq('lastSeq').optional(),
  epoch,
});

export const leaveSchema = z.object({ threadId: id('threadId') });

/** `epoch`, when given, is the log the client counted `seq` in; the SDK always sends it. */
export const ackSchema = z.object({
  threadId: id('threadId'),
  seq: seq('seq'),
  epoch,
});

export const userMessageSchema = z.object({
  threadId: id('threadId'),
  text: z
    .string({ error: 'text must be a string' })
    .min(1, 'text must not be empty')
    .max(MAX_TEXT_CHARS, `text must be at most ${MAX_TEXT_CHARS} characters`),
  clientMessageId: id('clientMessageId', 100),
});

export const authRefreshSchema = z.object({
  token: z
    .string({ error: 'token must be a string' })
    .min(1, 'token must not be empty')
    .max(MAX_TOKEN_CHARS, `token must be at most ${MAX_TOKEN_CHARS} characters`),
});
