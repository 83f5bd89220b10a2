import type { Socket } from 'socket.io';
import { isValidId } from '../registry/thread-id.js';
import type { RelayLogger } from '../thread-relay.logger.js';
import type { Authenticate } from '../thread-relay.options.js';

export interface RelaySocketData {
  userId: string;
}

/**
 * socket.io middleware: NestJS guards do not run on connect, so the handshake is checked
 * here. Any refusal is the same `unauthorized` connect_error; the reason is only logged.
 */
export function handshakeAuth(authenticate: Authenticate, log: RelayLogger) {
  return (socket: Socket, next: (error?: Error) => void): void => {
    const auth = socket.handshake.auth as Record<string, unknown> | undefined;
    const token = typeof auth?.token === 'string' ? auth.token : undefined;
    const refuse = (reason: string) => {
      log.warn({
        msg: 'connection refused',
        connectionId: socket.id,
        reason,
        address: socket.handshake.address,
      });
      next(new Error('unauthorized'));
    };
    if (!token) return refuse('no token');
    Promise.resolve()
      .then(() =>
        authenticate({
          token,
          headers: socket.handshake.headers,
          transport: 'socket',
          address: socket.handshake.address,
        }),
      )
      .then(
        (user) => {
          if (!user || !isValidId(user.userId)) return refuse('token rejected');
          (socket.data as RelaySocketData).userId = user.userId;
          next();
        },
        () => refuse('authenticate threw'),
      );
  };
}
