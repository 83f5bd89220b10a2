import { Inject, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { isValidId } from '../registry/thread-id.js';
import { RelayLogger } from '../thread-relay.logger.js';
import { RELAY_OPTIONS, type ResolvedRelayOptions } from '../thread-relay.options.js';
import { UnauthorizedError } from './unauthorized.error.js';

export function bearerToken(request: Request): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/** Authenticates user routes with the same `authenticate` option as socket handshakes. */
@Injectable()
export class HttpUserAuthService {
  private readonly log: RelayLogger;

  constructor(@Inject(RELAY_OPTIONS) private readonly options: ResolvedRelayOptions) {
    this.log = RelayLogger.for('HttpUserAuth', options);
  }

  async userId(request: Request): Promise<string> {
    const token = bearerToken(request);
    if (!token) throw new UnauthorizedError('Authorization: Bearer <token> is required');
    let user: { userId: string } | null;
    try {
      user = await this.options.authenticate({
        token,
        headers: request.headers,
        transport: 'http',
        address: request.ip,
      });
    } catch {
      user = null;
    }
    if (!user || !isValidId(user.userId)) {
      this.log.warn({ msg: 'http request refused', path: request.path, reason: 'token rejected' });
      throw new UnauthorizedError('unauthorized');
    }
    return user.userId;
  }
}
