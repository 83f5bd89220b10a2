import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { LoggerService } from '@nestjs/common';
import { z } from 'zod';
import { isValidId } from '../ids.js';
import type {
  Authenticate,
  ResolvedRelayOptions,
  ThreadAccessHook,
  UserMessageHandler,
} from '../thread-relay.options.js';
import { backpressureSection, gatewaySection, sseSection } from './connection.schema.js';
import { deliverySection, historySection, livenessSection } from './delivery.schema.js';
import { limitsSection } from './limits.schema.js';
import { got, hook, mustBeObject, nullishOr } from './option-primitives.js';
import { redisOption } from './redis.schema.js';
import { debugSection, producerSection } from './access.schema.js';

const KiB = 1024;

const keyPrefixMessage = 'must be a string of at most 100 characters without braces or spaces';
const instanceIdMessage = 'may only contain letters, digits and _ . : @ -';

const defaultInstanceId = () => `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;

/** Every option as given: the sections' own defaults filled, the derived ones still absent. */
const givenOptions = z.object(
  {
    authenticate: z.custom<Authenticate>((value) => typeof value === 'function', {
      error: (issue) =>
        issue.input === undefined
          ? 'is required: a function (request) => { userId } | null that checks the token of each connection and HTTP request'
          : got('must be a function')(issue),
    }),
    redis: redisOption,
    keyPrefix: nullishOr(
      () => '',
      z
        .string({ error: keyPrefixMessage })
        .max(100, { error: keyPrefixMessage })
        .regex(/^[^{}\s]*$/, { error: keyPrefixMessage }),
    ),
    // The generated id is checked too: a host name may hold characters an id may not.
    instanceId: nullishOr(
      defaultInstanceId,
      z.custom<string>(isValidId, { error: instanceIdMessage }),
    ),
    threadAccess: hook<ThreadAccessHook>().optional(),
    autoRegisterThreads: nullishOr(() => true, z.boolean({ error: 'must be a boolean' })),
    history: historySection,
    limits: limitsSection,
    sse: sseSection,
    backpressure: backpressureSection,
    gateway: gatewaySection,
    delivery: deliverySection,
    liveness: livenessSection,
    debug: debugSection,
    producer: producerSection,
    onUserMessage: hook<UserMessageHandler>().optional(),
    logger: z
      .custom<LoggerService>((value) => typeof value === 'object' && value !== null, {
        error: 'must be a Nest LoggerService',
      })
      .optional(),
  },
  { error: mustBeObject },
);

type GivenOptions = z.output<typeof givenOptions>;

/** Fills the defaults that follow from other options. */
function withDerivedDefaults(given: GivenOptions): ResolvedRelayOptions {
  const { maxEventBytes } = given.delivery;
  const { adminToken } = given.debug;
  return {
    ...given,
    history: {
      ...given.history,
      autoThreadTtlSeconds: given.history.autoThreadTtlSeconds ?? given.history.ttlSeconds,
    },
    gateway: {
      ...given.gateway,
      corsOrigins: given.gateway.corsOrigins ?? null,
      // The largest frame a client needs is a user message of maxEventBytes, and a bigger
      // one only costs the server parsing time (a 1 MB frame a dozen times a second slows
      // everyone).
      maxPayloadBytes:
        given.gateway.maxPayloadBytes ?? Math.max(128 * KiB, maxEventBytes + 16 * KiB),
    },
    debug: { ...given.debug, adminToken: adminToken ?? null },
    producer: {
      ...given.producer,
      maxBodyBytes:
        given.producer.maxBodyBytes ?? Math.max(4 * KiB * KiB, maxEventBytes + 16 * KiB),
    },
    threadAccess: given.threadAccess,
    onUserMessage: given.onUserMessage,
    logger: given.logger,
  };
}

/** Room above `delivery.maxEventBytes` that a frame or body needs for its envelope and ids. */
const ENVELOPE_BYTES = 1024;

/** Rules that tie one section's option to another's. */
function checkAcrossSections(options: ResolvedRelayOptions, ctx: z.RefinementCtx): void {
  const smallest = options.delivery.maxEventBytes + ENVELOPE_BYTES;
  const carriers = [
    // A user message's frame is its text (at most maxEventBytes less 400, as JSON) and ids.
    {
      path: ['gateway', 'maxPayloadBytes'],
      size: options.gateway.maxPayloadBytes,
      carries: 'the largest user message',
    },
    // The largest body a producer needs is one event of maxEventBytes and its envelope.
    {
      path: ['producer', 'maxBodyBytes'],
      size: options.producer.maxBodyBytes,
      carries: 'the largest event',
    },
  ];
  for (const { path, size, carries } of carriers) {
    if (size >= smallest) continue;
    ctx.addIssue({
      code: 'custom',
      path,
      message: `must be at least delivery.maxEventBytes + ${ENVELOPE_BYTES} (${smallest}), or ${carries} could not be sent; got ${size}`,
    });
  }
  if (options.delivery.replicaAcks > 0 && options.redis.kind === 'none') {
    ctx.addIssue({
      code: 'custom',
      path: ['delivery', 'replicaAcks'],
      message: 'needs `redis`: in memory there are no replicas to wait for',
    });
  }
  options.producer.apiKeys.forEach((key, index) => {
    if (key === options.debug.adminToken) {
      ctx.addIssue({
        code: 'custom',
        path: ['producer', 'apiKeys', index],
        message: 'must differ from debug.adminToken: a producer key opens only the producer routes',
      });
    }
  });
}

/** `ThreadRelayModuleOptions` in, `ResolvedRelayOptions` out: every option checked, every default filled. */
export const relayOptionsSchema = givenOptions
  // No options at all reads as `{}`, so the message is that `authenticate` is required.
  .prefault({} as z.input<typeof givenOptions>)
  .transform(withDerivedDefaults)
  .superRefine(checkAcrossSections);
