import type { Socket } from 'socket.io';
import { WarnLimiter } from '../observability/warn-limiter.js';
import type { RelayLogger } from '../thread-relay.logger.js';
import type { Authenticate } from '../thread-relay.options.js';
import { checkCredential } from '../auth/credential.js';

export interface RelaySocketData {
  userId: string;
  /** When the handshake's credential expires (epoch ms); null when it does not. */
  expiresAt: number | null;
}

/**
 * socket.io middleware: NestJS guards do not run on connect, so the handshake is checked
 * here. Any refusal is the same `unauthorized` connect_error; the reason is only logged.
 */
export function handshakeAuth(authenticate: Authenticate, log: RelayLogger) {
  // One line per address and reason per minute: a token-guessing client cannot fill the log.
  const warnings = new WarnLimiter();
  return (socket: Socket, next: (error?: Error) => void): void => {
    const auth = socket.handshake.auth as Record<string, unknown> | undefined;
    const token = typeof auth?.token === 'string' ? auth.token : undefined;
    const refuse = (reason: string) => {
      const suppressed = warnings.admit(`${socket.handshake.address} ${reason}`);
      if (suppressed !== null) {
        log.warn({
          msg: 'connection refused',
          connectionId: socket.id,
          reason,
          address: socket.handshake.address,
          suppressed,
        });
      }
      next(new Error('unauthorized'));
    };
    if (!token) return refuse('no token');
    void checkCredential(authenticate, {
      token,
      headers: socket.handshake.headers,
      transport: 'socket',
      address: socket.handshake.address,
    }).then((check) => {
      if (!check.ok) return refuse(check.reason);
      const data = socket.data as RelaySocketData;
      data.userId = check.credential.userId;
      data.expiresAt = check.credential.expiresAt;
      next();
    });
  };
}
