import { Inject, type OnModuleDestroy } from '@nestjs/common';
import { WebSocketGateway, type OnGatewayInit } from '@nestjs/websockets';
import type { Server } from 'socket.io';
import { type ResolvedRelayOptions } from '../thread-relay.options.js';
import { RELAY_OPTIONS } from '../thread-relay.constants.js';
import { RelayConnectionHandler } from './relay-connection.handler.js';
import { RELAY_SERVER_MARK } from './relay-io.adapter.js';

/**
 * The NestJS hook that receives the socket.io server. The server itself is configured by
 * `RelayIoAdapter` (decorator options are fixed at import time); the protocol lives in
 * `RelayConnectionHandler` on the configured namespace.
 *
 * Client events are wired by hand (`ClientEventDispatch`), not as `@SubscribeMessage`
 * methods: the namespace is a runtime option, unknown events need a catch-all under the
 * same rate limit, and only the first argument is the payload. So Nest guards, pipes and
 * filters do not run on them; `handshakeAuth` with the per-connection token bucket, the
 * zod schemas of `payloads/` and `errorAnswer` stand in their place.
 */
@WebSocketGateway()
export class RelayGateway implements OnGatewayInit<Server>, OnModuleDestroy {
  constructor(
    private readonly handler: RelayConnectionHandler,
    @Inject(RELAY_OPTIONS) private readonly options: ResolvedRelayOptions,
  ) {}

  afterInit(server: Server): void {
    if (!(server as unknown as Record<symbol, unknown>)[RELAY_SERVER_MARK]) {
      throw new Error(
        'thread-relay: the socket.io server was not created by RelayIoAdapter. Call app.useWebSocketAdapter(new RelayIoAdapter(app)) before app.listen() so gateway options and the Redis adapter apply.',
      );
    }
    this.handler.attach(server.of(this.options.gateway.namespace));
  }

  onModuleDestroy(): void {
    this.handler.detach();
  }
}
