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
import { RELAY_OPTIONS, type ResolvedRelayOptions } from '../thread-relay.options.js';
import { bearerToken } from './http-user-auth.service.js';

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/**
 * Debug routes: 404 when no admin token is configured (the routes do not exist), 401
 * without the right token. Digests are compared so the comparison takes the same time
 * whatever the length or content of the guess.
 */
@Injectable()
export class AdminTokenGuard implements CanActivate {
  private readonly expected: Buffer | null;

  constructor(@Inject(RELAY_OPTIONS) options: ResolvedRelayOptions) {
    this.expected = options.debug.adminToken === null ? null : digest(options.debug.adminToken);
  }

  canActivate(context: ExecutionContext): boolean {
    if (!this.expected)
      throw new NotFoundException('debug routes are disabled (no admin token configured)');
    const token = bearerToken(context.switchToHttp().getRequest<Request>());
    if (!token || !timingSafeEqual(digest(token), this.expected)) {
      throw new UnauthorizedException('admin token required');
    }
    return true;
  }
}
