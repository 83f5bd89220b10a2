import {
  type CanActivate,
  type ExecutionContext,
  Inject,
  Injectable,
  NotFoundException,
  SetMetadata,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { UnauthorizedError } from '../../errors/unauthorized.error.js';
import { WarnLimiter } from '../../observability/warn-limiter.js';
import { RelayLogger } from '../../thread-relay.logger.js';
import { type ResolvedRelayOptions } from '../../thread-relay.options.js';
import { PRODUCER_REQUEST_LIMITER, RELAY_OPTIONS } from '../../thread-relay.constants.js';
import { bearerToken } from '../http-user-auth.service.js';
import { ProducerKeys } from './producer-keys.js';
import type { LocalRateLimiter } from '../../limits/local-rate-limiter.js';

const CHARGE_PER_EVENT = 'thread-relay:charge-per-event';

/** A batch route: its request takes one token per event of `body.events` (capped at the burst). */
export const ChargePerEvent = () => SetMetadata(CHARGE_PER_EVENT, true);

/**
 * The producer routes: 404 when no producer key is configured (the API does not exist,
 * as the debug routes without an admin token), 401 without one of the keys. User JWTs
 * and the admin token are not producer keys: each credential opens only its own routes.
 * Then the key's rate-limit token (`limits.producerRequests`), before the body is read.
 */
@Injectable()
export class ProducerKeyGuard implements CanActivate {
  private readonly log: RelayLogger;
  /** One line per address per minute: a key-guessing client cannot fill the log. */
  private readonly warnings = new WarnLimiter();

  constructor(
    private readonly keys: ProducerKeys,
    private readonly reflector: Reflector,
    @Inject(PRODUCER_REQUEST_LIMITER) private readonly limiter: LocalRateLimiter,
    @Inject(RELAY_OPTIONS) options: ResolvedRelayOptions,
  ) {
    this.log = RelayLogger.for('ProducerAuth', options);
  }

  canActivate(context: ExecutionContext): boolean {
    if (!this.keys.enabled) {
      throw new NotFoundException('the producer API is disabled (no producer.apiKeys configured)');
    }
    const request = context.switchToHttp().getRequest<Request>();
    const producerId = this.keys.identify(bearerToken(request));
    if (producerId === null) {
      const suppressed = this.warnings.admit(request.ip ?? '');
      if (suppressed !== null) {
        this.log.warn({
          msg: 'producer request refused',
          path: request.path,
          address: request.ip,
          suppressed,
        });
      }
      throw new UnauthorizedError('a producer key is required: Authorization: Bearer <key>');
    }
    this.limiter.take(producerId, this.costOf(context, request));
    return true;
  }

  private costOf(context: ExecutionContext, request: Request): number {
    if (!this.reflector.get<boolean>(CHARGE_PER_EVENT, context.getHandler())) return 1;
    const events = (request.body as { events?: unknown } | undefined)?.events;
    return Array.isArray(events) ? events.length : 1;
  }
}
