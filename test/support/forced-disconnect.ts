import type { Socket as TcpSocket } from 'node:net';
import type { Socket } from 'socket.io-client';

/** What engine.io-client's Node websocket transport holds: a `ws` WebSocket and its TCP socket. */
interface NodeWebSocketTransport {
  ws?: { _socket?: TcpSocket | null };
}

/**
 * Cuts a connected socket.io-client connection the way a network failure does: the TCP
 * socket under its websocket transport is reset (RST) and destroyed, so neither side
 * closes anything gracefully (no websocket close frame, no socket.io disconnect packet).
 * Both sides see `transport close`/`transport error`; the client reconnects if reconnection
 * is on. Returns false, doing nothing, when there is no live websocket connection to cut
 * (not connected, another transport, or already cut).
 */
export function cutTransport(socket: Socket | null | undefined): boolean {
  if (!socket?.connected) return false;
  const transport = socket.io.engine?.transport as NodeWebSocketTransport | undefined;
  const tcp = transport?.ws?._socket;
  if (!tcp || tcp.destroyed) return false;
  tcp.resetAndDestroy();
  return true;
}
