import type { Server } from 'socket.io';

/** What `server.adapter()` takes. */
export type SocketAdapterConstructor = NonNullable<Parameters<Server['adapter']>[0]>;

/** Makes the socket.io adapter for a new server; null in memory mode (socket.io's default). */
export type SocketAdapterFactory = () => SocketAdapterConstructor;

export const RELAY_SOCKET_ADAPTER = Symbol('RELAY_SOCKET_ADAPTER');
