import { createHash, timingSafeEqual } from 'node:crypto';
import {
  type CanActivate,
  type ExecutionContext,
  Inject,
  Injectable,
  NotFoundException,
  UnauthorizedException,
} from '@nestjs/common';
import type { Request } from 'express';
import { type ResolvedRelayOptions } from '../thread-relay.options.js';
import { RELAY_OPTIONS } from '../thread-relay.constants.js';
import { bearerToken } from './http-user-auth.service.js';
import { notLoopbackReason } from './loopback-request.js';

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/**
 * Debug routes: 404 when no admin token is configured (the routes do not exist), 401
 * without the right token. Digests are compared so the comparison takes the same time
 * whatever the length or content of the guess.
 *
 * With `debug.allowLoopbackWithoutToken` (development servers), a request from this
 * machine that sends no `Authorization` header passes without a token (see
 * `notLoopbackReason` for what counts as local); a request that sends one is judged by
 * it, and every other request is treated as above.
 */
@Injectable()
export class AdminTokenGuard implements CanActivate {
  private readonly expected: Buffer | null;
  private readonly loopbackWithoutToken: boolean;

  constructor(@Inject(RELAY_OPTIONS) options: ResolvedRelayOptions) {
    this.expected = options.debug.adminToken === null ? null : digest(options.debug.adminToken);
    this.loopbackWithoutToken = options.debug.allowLoopbackWithoutToken;
  }

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<Request>();
    let refused: string | null = null;
    if (this.loopbackWithoutToken) {
      refused =
        request.headers.authorization !== undefined
          ? 'an Authorization header was sent'
          : notLoopbackReason(request);
      if (refused === null) return true;
    }
    if (!this.expected) {
      throw new NotFoundException(
        this.loopbackWithoutToken
          ? `debug routes are served only to loopback clients without a token (no admin token configured); not here: ${refused}`
          : 'debug routes are disabled (no admin token configured)',
      );
    }
    const token = bearerToken(request);
    if (!token || !timingSafeEqual(digest(token), this.expected)) {
      throw new UnauthorizedException(
        refused !== null && token === undefined
          ? `admin token required (loopback access without a token does not apply: ${refused})`
          : 'admin token required',
      );
    }
    return true;
  }
}
