import { z } from 'zod';

/**
 * Shapes of the producer routes' bodies. Ids and event types are only required to be
 * strings here: their format is checked by the registry and delivery services, which
 * answer with the typed codes (INVALID_ID, INVALID_EVENT_TYPE) every other path uses.
 * Unknown fields are refused: a misspelt `idempotencyKey` must not silently send twice.
 */

/** Events one `POST /v1/events` may carry. */
export const MAX_BATCH_EVENTS = 500;
/** Longest `waitMs` of a delivery wait; a producer that needs longer asks again. */
export const MAX_WAIT_MS = 30_000;
/** Thread metadata is a small label set, stored with the thread and shown in debug routes. */
export const MAX_METADATA_KEYS = 32;
export const MAX_METADATA_KEY_CHARS = 100;
export const MAX_METADATA_VALUE_CHARS = 1000;

const text = (field: string) => z.string({ error: `${field} must be a string` });

/** Any JSON value, but present: a missing payload is a mistake, `null` is a choice. */
const payload = z
  .unknown()
  .refine((value) => value !== undefined, 'payload is required (any JSON value)');

const metadata = z
  .record(
    z
      .string()
      .min(1, 'metadata keys must not be empty')
      .max(
        MAX_METADATA_KEY_CHARS,
        `metadata keys must be at most ${MAX_METADATA_KEY_CHARS} characters`,
      ),
    z.union([z.string().max(MAX_METADATA_VALUE_CHARS), z.number(), z.boolean(), z.null()], {
      error: `metadata values must be strings (at most ${MAX_METADATA_VALUE_CHARS} characters), numbers, booleans or null`,
    }),
    { error: 'metadata must be an object' },
  )
  .refine(
    (value) => Object.keys(value).length <= MAX_METADATA_KEYS,
    `metadata may have at most ${MAX_METADATA_KEYS} keys`,
  );

export const registerThreadBody = z.strictObject({
  ownerId: text('ownerId'),
  metadata: metadata.optional(),
});

export const registerRunBody = z.strictObject({ threadId: text('threadId') });

const event = {
  type: text('type'),
  payload,
  idempotencyKey: text('idempotencyKey').optional(),
};

export const eventBody = z.strictObject(event);

export const batchItem = z.strictObject({ target: text('target'), ...event });

/** Items are checked one by one (`batchItem`), so one bad item fails alone. */
export const batchBody = z.strictObject({
  events: z
    .array(z.unknown(), { error: 'events must be an array' })
    .max(MAX_BATCH_EVENTS, `events may hold at most ${MAX_BATCH_EVENTS} events`),
});

export const userEventBody = z.strictObject({ type: text('type'), payload });

export const deliveryQuery = z.strictObject({
  seq: z
    .string({ error: 'seq is required: a positive integer' })
    .regex(/^[1-9]\d{0,14}$/, 'seq must be a positive integer'),
  waitMs: z
    .string({ error: 'waitMs must be a number' })
    .regex(/^\d{1,6}$/, 'waitMs must be a non-negative integer')
    .refine((value) => Number(value) <= MAX_WAIT_MS, `waitMs must be at most ${MAX_WAIT_MS}`)
    .optional(),
});

export type BatchItem = z.infer<typeof batchItem>;
export type RegisterThreadBody = z.infer<typeof registerThreadBody>;
export type RegisterRunBody = z.infer<typeof registerRunBody>;
export type EventBody = z.infer<typeof eventBody>;
export type BatchBody = z.infer<typeof batchBody>;
export type UserEventBody = z.infer<typeof userEventBody>;
export type DeliveryQuery = z.infer<typeof deliveryQuery>;
