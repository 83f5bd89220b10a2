import {
  type CanActivate,
  type ExecutionContext,
  Inject,
  Injectable,
  NotFoundException,
} from '@nestjs/common';
import type { Request } from 'express';
import { UnauthorizedError } from '../../errors/unauthorized.error.js';
import { WarnLimiter } from '../../observability/warn-limiter.js';
import { RelayLogger } from '../../thread-relay.logger.js';
import { type ResolvedRelayOptions } from '../../thread-relay.options.js';
import { RELAY_OPTIONS } from '../../thread-relay.constants.js';
import { bearerToken } from '../http-user-auth.service.js';
import { ProducerKeys } from './producer-keys.js';
import { setProducerId } from './producer-request.js';

/**
 * The producer routes: 404 when no producer key is configured (the API does not exist,
 * as the debug routes without an admin token), 401 without one of the keys. User JWTs
 * and the admin token are not producer keys: each credential opens only its own routes.
 */
@Injectable()
export class ProducerKeyGuard implements CanActivate {
  private readonly log: RelayLogger;
  /** One line per address per minute: a key-guessing client cannot fill the log. */
  private readonly warnings = new WarnLimiter();

  constructor(
    private readonly keys: ProducerKeys,
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
    setProducerId(request, producerId);
    return true;
  }
}
