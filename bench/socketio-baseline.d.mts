import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Redis } from 'ioredis';
import type { Server } from 'socket.io';

export interface SocketIoBaselineOptions {
  /** Given: the adapter's Redis, shared by every instance under `keyPrefix`. */
  redisUrl?: string;
  /** Default `baseline:`; the adapter's key is `<keyPrefix>socket.io`. */
  keyPrefix?: string;
  onRequest?: (req: IncomingMessage, res: ServerResponse) => void;
}

export interface SocketIoBaseline {
  io: Server;
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** The adapter's connections; null without `redisUrl`. */
  redis: { pub: Redis; sub: Redis } | null;
  /** Emits `thread:event` with `event` to everyone joined to the thread, on every instance. */
  emitToThread(threadId: string, event: unknown): void;
  connections(): number;
  close(): Promise<void>;
}

export function startSocketIoBaseline(options: SocketIoBaselineOptions): Promise<SocketIoBaseline>;
