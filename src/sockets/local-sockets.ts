import { Injectable } from '@nestjs/common';
import type { Namespace } from 'socket.io';
import { threadRoom, userRoom } from './rooms.js';

/**
 * This instance's socket.io namespace, once the gateway has one: what delivery and health
 * emit through, to local sockets only (other instances hear their own share on the
 * cluster bus). A producer-only process never has one, and every emit is then a no-op.
 */
@Injectable()
export class LocalSockets {
  private nsp: Namespace | null = null;

  attach(nsp: Namespace): void {
    this.nsp = nsp;
  }

  detach(): void {
    this.nsp = null;
  }

  get namespace(): Namespace | null {
    return this.nsp;
  }

  /** Whether a local connection is in the thread's room (joined and done replaying). */
  hasThreadRoom(threadId: string): boolean {
    return this.nsp?.adapter.rooms.has(threadRoom(threadId)) ?? false;
  }

  /** socket.io encodes the packet before it looks at the room: callers skip empty rooms. */
  emitToThread(threadId: string, event: string, data: unknown): void {
    this.nsp?.local.to(threadRoom(threadId)).emit(event, data);
  }

  emitToUser(userId: string, event: string, data: unknown): void {
    this.nsp?.local.to(userRoom(userId)).emit(event, data);
  }

  emitToAll(event: string, data: unknown): void {
    this.nsp?.local.emit(event, data);
  }
}
