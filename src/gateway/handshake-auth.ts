import type { Socket } from 'socket.io';
import { WarnLimiter } from '../observability/warn-limiter.js';
import type { RelayLogger } from '../thread-relay.logger.js';
import type { ResolvedRelayOptions } from '../thread-relay.options.js';
import { LocalBuckets } from '../limits/local-buckets.js';
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
export function handshakeAuth(
  options: Pick<ResolvedRelayOptions, 'authenticate' | 'limits'>,
  log: RelayLogger,
) {
  const { authenticate } = options;
  // One line per address and reason per minute: a token-guessing client cannot fill the log.
  const warnings = new WarnLimiter();
  const { perMinute, burst } = options.limits.connectionAttempts;
  const attempts = new LocalBuckets({ perSecond: perMinute / 60, burst });
  return (socket: Socket, next: (error?: Error) => void): void => {
    const auth = socket.handshake.auth as Record<string, unknown> | undefined;
    const token = typeof auth?.token === 'string' ? auth.token : undefined;
    const refuse = (reason: string, error = new Error('unauthorized')) => {
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
      next(error);
    };
    if (!token) return refuse('no token');
    void checkCredential(authenticate, {
      token,
      headers: socket.handshake.headers,
      transport: 'socket',
      address: socket.handshake.address,
    }).then((check) => {
      if (!check.ok) return refuse(check.reason);
      // After the check, so strangers cannot use up a user's attempts.
      const taken = attempts.take(check.credential.userId);
      if (!taken.ok) {
        return refuse(
          'too many connection attempts (limits.connectionAttempts)',
          rateLimited(taken.retryAfterMs),
        );
      }
      const data = socket.data as RelaySocketData;
      data.userId = check.credential.userId;
      data.expiresAt = check.credential.expiresAt;
      next();
    });
  };
}

/**
 * The connect_error of a refused attempt: message `rate_limited`, and socket.io's `data`
 * with the module's error body, which socket.io-client exposes as `error.data`.
 */
function rateLimited(retryAfterMs: number): Error {
  const error = new Error('rate_limited') as Error & { data: object };
  error.data = {
    code: 'RATE_LIMITED',
    message: `Too many connection attempts; retry in ${retryAfterMs} ms`,
    retryAfterMs,
  };
  return error;
}
