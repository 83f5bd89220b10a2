import type { Socket } from 'socket.io-client';
import {
  ClientEvents,
  type AckRequest,
  type JoinRequest,
  type JoinResult,
  type UserMessageResult,
} from '../protocol.js';
import { ThreadRelayClientError } from './client-error.js';
import { socketRequest } from './socket-request.js';
import { isJoinResult, toAuthRefreshResult, toUserMessageResult } from './wire-guards.js';

/**
 * The requests the client makes over the socket, each answer checked for shape: the
 * socket's counterpart of `RelayRestApi`. Every request names the socket it goes on, so an
 * answer is never taken from another connection than the one asked.
 */
export class RelaySocketApi {
  constructor(private readonly timeoutMs: number) {}

  async join(socket: Socket, request: JoinRequest): Promise<JoinResult> {
    const { threadId } = request;
    const answer = await socketRequest(
      socket,
      ClientEvents.join,
      request,
      this.timeoutMs,
      threadId,
    );
    if (!isJoinResult(answer) || answer.threadId !== threadId) {
      throw new ThreadRelayClientError('BAD_RESPONSE', 'thread:join: unexpected answer', {
        threadId,
      });
    }
    return {
      threadId,
      epoch: answer.epoch,
      headSeq: answer.headSeq,
      replayed: answer.replayed,
    };
  }

  async leave(socket: Socket, threadId: string): Promise<void> {
    await socketRequest(socket, ClientEvents.leave, { threadId }, this.timeoutMs, threadId);
  }

  /** A user message; waits no longer than `remainingMs`, what is left of `send()`'s time. */
  async postMessage(
    socket: Socket,
    threadId: string,
    text: string,
    clientMessageId: string,
    remainingMs: number,
  ): Promise<UserMessageResult> {
    const answer = await socketRequest(
      socket,
      ClientEvents.userMessage,
      { threadId, text, clientMessageId },
      Math.min(this.timeoutMs, remainingMs),
      threadId,
    );
    const result = toUserMessageResult(answer);
    if (!result) {
      throw new ThreadRelayClientError('BAD_RESPONSE', 'user:message: unexpected answer', {
        threadId,
      });
    }
    return result;
  }

  /** An ack that asks for no answer: the server writes back only a refusal (`relay:error`). */
  ack(socket: Socket, ack: AckRequest): void {
    socket.emit(ClientEvents.ack, ack);
  }

  /** An ack the server answers once it has recorded it. */
  async confirmAck(socket: Socket, ack: AckRequest): Promise<void> {
    await socketRequest(socket, ClientEvents.ack, ack, this.timeoutMs, ack.threadId);
  }

  /** A fresh token for the connection; resolves with the new credential's expiry. */
  async refreshAuth(socket: Socket, token: string): Promise<number | null> {
    const answer = await socketRequest(socket, ClientEvents.authRefresh, { token }, this.timeoutMs);
    const result = toAuthRefreshResult(answer);
    if (!result) {
      throw new ThreadRelayClientError('BAD_RESPONSE', 'auth:refresh: unexpected answer');
    }
    return result.expiresAt;
  }
}
