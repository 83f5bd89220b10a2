import type { INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import type { IncomingMessage } from 'node:http';
import type { Server, ServerOptions } from 'socket.io';
import { encodePreEncodedJson } from '../sockets/pre-encoded-json.js';
import { type ResolvedRelayOptions } from '../thread-relay.options.js';
import { RELAY_OPTIONS } from '../thread-relay.constants.js';

/** Marks servers made by `RelayIoAdapter`, so the gateway can refuse to run on a misconfigured one. */
export const RELAY_SERVER_MARK = Symbol.for('thread-relay.server');

/**
 * Creates the socket.io server with the module's gateway options (path, CORS, ping,
 * max payload). Gateway decorator options are fixed at import time, which is why they are
 * applied here instead. No socket.io adapter is needed with Redis: instances do not
 * broadcast to each other's rooms, each hears the threads and users it hosts on the
 * module's cluster bus and emits to its own sockets.
 *
 *   app.useWebSocketAdapter(new RelayIoAdapter(app));
 */
export class RelayIoAdapter extends IoAdapter {
  constructor(private readonly app: INestApplicationContext) {
    super(app);
  }

  override createIOServer(port: number, options?: ServerOptions): Server {
    const relay = this.app.get<ResolvedRelayOptions>(RELAY_OPTIONS);
    const { gateway } = relay;
    const server = super.createIOServer(port, {
      ...(options as ServerOptions),
      path: gateway.path,
      pingInterval: gateway.pingIntervalMs,
      pingTimeout: gateway.pingTimeoutMs,
      maxHttpBufferSize: gateway.maxPayloadBytes,
      cors:
        gateway.corsOrigins === null
          ? undefined
          : { origin: gateway.corsOrigins === '*' ? true : gateway.corsOrigins, credentials: true },
      allowRequest: (req, callback) => callback(null, originAllowed(req, gateway.corsOrigins)),
    });
    // Live events fan out as the JSON the bus carried (see LocalSockets.emitToThread).
    encodePreEncodedJson(server);
    Object.defineProperty(server, RELAY_SERVER_MARK, { value: true });
    return server;
  }
}

/**
 * CORS does not cover WebSocket upgrades, so the origin allowlist is also checked here:
 * same-origin and non-browser clients (no Origin header) are always allowed.
 */
function originAllowed(req: IncomingMessage, allowed: string[] | '*' | null): boolean {
  const origin = req.headers.origin;
  if (!origin || allowed === '*') return true;
  if (allowed?.includes(origin)) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}
