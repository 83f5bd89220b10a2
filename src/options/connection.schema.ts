import { z } from 'zod';
import { got, integer, nullishOr, oneOf, parseUrl, section } from './option-primitives.js';

const KiB = 1024;

const mountPoint = (fallback: string) => {
  const message = 'must be a string starting with "/"';
  return nullishOr(
    () => fallback,
    z.string({ error: message }).startsWith('/', { error: message }),
  );
};

const origin = z
  .string({ error: 'must be a string' })
  .refine((value) => parseUrl(value)?.origin === value, {
    error: got('must be an origin like https://app.example.com'),
  });

const corsOrigins = oneOf<string[] | '*'>(
  [
    { matches: (value) => value === '*', schema: z.literal('*') },
    { matches: Array.isArray, schema: z.array(origin) },
  ],
  () => `must be '*' or an array of origins`,
);

/** `gateway`: where socket.io listens and what it accepts. */
export const gatewaySection = section({
  namespace: mountPoint('/'),
  path: mountPoint('/socket.io'),
  corsOrigins: corsOrigins.optional(),
  pingIntervalMs: integer(100).default(25_000),
  pingTimeoutMs: integer(100).default(20_000),
  /** Defaults from `delivery.maxEventBytes`: see `relay-options.schema.ts`. */
  maxPayloadBytes: integer(1024).optional(),
});

/** `sse`: Server-Sent Events streams. */
export const sseSection = section({ heartbeatMs: integer(100, 600_000).default(15_000) });

/** `backpressure`: how much unsent data a connection may hold before it is paused or cut. */
export const backpressureSection = section({
  highWaterBytes: integer(1024).default(256 * KiB),
  maxBufferedBytes: integer(1024).default(4 * KiB * KiB),
  stallTimeoutMs: integer(100).default(30_000),
}).superRefine(({ highWaterBytes, maxBufferedBytes }, ctx) => {
  if (maxBufferedBytes < highWaterBytes) {
    ctx.addIssue({
      code: 'custom',
      path: ['maxBufferedBytes'],
      message: `must be at least backpressure.highWaterBytes (${highWaterBytes}), got ${maxBufferedBytes}`,
    });
  }
});
