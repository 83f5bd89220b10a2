import { Inject, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { checkCredential, type Credential } from '../auth/credential.js';
import { WarnLimiter } from '../observability/warn-limiter.js';
import { RelayLogger } from '../thread-relay.logger.js';
import { type ResolvedRelayOptions } from '../thread-relay.options.js';
import { RELAY_OPTIONS } from '../thread-relay.constants.js';
import { UnauthorizedError } from '../errors/unauthorized.error.js';

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
  /** One line per address and reason per minute: a token-guessing client cannot fill the log. */
  private readonly warnings = new WarnLimiter();

  constructor(@Inject(RELAY_OPTIONS) private readonly options: ResolvedRelayOptions) {
    this.log = RelayLogger.for('HttpUserAuth', options);
  }

  async userId(request: Request): Promise<string> {
    return (await this.credential(request)).userId;
  }

  /** The caller's user and when its token expires (null: never), or UnauthorizedError. */
  async credential(request: Request): Promise<Credential> {
    const token = bearerToken(request);
    if (!token) throw new UnauthorizedError('Authorization: Bearer <token> is required');
    const check = await checkCredential(this.options.authenticate, {
      token,
      headers: request.headers,
      transport: 'http',
      address: request.ip,
    });
    if (!check.ok) {
      const suppressed = this.warnings.admit(`${request.ip ?? ''} ${check.reason}`);
      if (suppressed !== null) {
        this.log.warn({
          msg: 'http request refused',
          path: request.path,
          address: request.ip,
          reason: check.reason,
          suppressed,
        });
      }
      throw new UnauthorizedError('unauthorized');
    }
    return check.credential;
  }
}
