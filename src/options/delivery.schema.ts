import { integer, section } from './option-primitives.js';

/** `history`: how long and how much of each thread's log is kept. */
export const historySection = section({
  ttlSeconds: integer(1).default(86_400),
  maxPerThread: integer(1, 10_000_000).default(1_000),
  /** Defaults to `ttlSeconds`: see `relay-options.schema.ts`. */
  autoThreadTtlSeconds: integer(1).optional(),
});

/** `delivery`: what a send accepts and how long it waits. */
export const deliverySection = section({
  maxEventBytes: integer(64).default(65_536),
  unavailableTimeoutMs: integer(10).default(5_000),
  /** Refused above 0 without `redis`: see `relay-options.schema.ts`. */
  replicaAcks: integer(0, 16).default(0),
});

/** `liveness`: how an instance shows it is alive, and how soon a dead one is swept. */
export const livenessSection = section({
  heartbeatMs: integer(50).default(5_000),
  ttlMs: integer(100).default(15_000),
}).superRefine(({ heartbeatMs, ttlMs }, ctx) => {
  if (ttlMs <= heartbeatMs) {
    ctx.addIssue({
      code: 'custom',
      path: ['ttlMs'],
      message: `must be greater than liveness.heartbeatMs (${heartbeatMs}), got ${ttlMs}`,
    });
  }
});
