import type { Socket } from 'socket.io';
import { checkCredential } from '../auth/credential.js';
import type { DeliveryAcks } from '../delivery/delivery-acks.service.js';
import type { UserMessageService } from '../delivery/user-message.service.js';
import { BadRequestError } from '../errors/bad-request.error.js';
import { UnauthorizedError } from '../errors/unauthorized.error.js';
import {
  ackSchema,
  authRefreshSchema,
  joinSchema,
  leaveSchema,
  userMessageSchema,
} from '../payloads/client-payload.schemas.js';
import { parseClientPayload } from '../payloads/parse-client-payload.js';
import { ClientEvents } from '../protocol.js';
import type { RelayLogger } from '../thread-relay.logger.js';
import type { ResolvedRelayOptions } from '../thread-relay.options.js';
import { failure, type ConnectionAnswers } from './connection-answers.js';
import type { ConnectionCloser } from './connection-closer.js';
import type { ConnectionSession } from './connection-session.js';
import type { ThreadMembership } from './thread-membership.js';

/**
 * What one client event does once it passed the checks every event passes: it parses its
 * own payload, and what it resolves with is the body of its `ok` answer.
 */
export type ClientEventHandler = (
  socket: Socket,
  session: ConnectionSession,
  payload: unknown,
) => Promise<object>;

/**
 * The events the relay answers: `thread:join`, `thread:leave`, `thread:ack`,
 * `user:message` and `auth:refresh`. Each throws what it refuses; the caller answers.
 */
export class ClientEventHandlers {
  /** Every known event with its handler, in the order they are wired. */
  readonly byEvent: ReadonlyMap<string, ClientEventHandler>;

  constructor(
    private readonly membership: ThreadMembership,
    private readonly acks: DeliveryAcks,
    private readonly userMessages: UserMessageService,
    private readonly answers: ConnectionAnswers,
    private readonly closer: ConnectionCloser,
    private readonly options: Pick<ResolvedRelayOptions, 'authenticate'>,
    private readonly log: RelayLogger,
  ) {
    this.byEvent = new Map<string, ClientEventHandler>([
      [ClientEvents.join, (socket, session, payload) => this.join(socket, session, payload)],
      [ClientEvents.leave, (socket, session, payload) => this.leave(socket, session, payload)],
      [ClientEvents.ack, (socket, session, payload) => this.ack(socket, session, payload)],
      [ClientEvents.userMessage, (_socket, session, payload) => this.userMessage(session, payload)],
      [
        ClientEvents.authRefresh,
        (socket, session, payload) => this.refresh(socket, session, payload),
      ],
    ]);
  }

  private async join(
    socket: Socket,
    session: ConnectionSession,
    payload: unknown,
  ): Promise<object> {
    const input = parseClientPayload(joinSchema, payload, ClientEvents.join);
    return this.membership.join(socket, session, input, {
      stalled: () => this.closer.cutSlowConsumer(socket, session, session.outbound.bytes()),
      failed: (error) => {
        this.log.error(
          { msg: 'replay failed', connectionId: socket.id, threadId: input.threadId },
          error,
        );
        this.answers.answer(socket, ClientEvents.join, undefined, failure(error));
      },
    });
  }

  private async leave(
    socket: Socket,
    session: ConnectionSession,
    payload: unknown,
  ): Promise<object> {
    const { threadId } = parseClientPayload(leaveSchema, payload, ClientEvents.leave);
    await this.membership.leave(socket, session, threadId);
    return {};
  }

  private async ack(socket: Socket, session: ConnectionSession, payload: unknown): Promise<object> {
    const { threadId, seq, epoch } = parseClientPayload(ackSchema, payload, ClientEvents.ack);
    if (!session.isJoined(threadId)) {
      throw new BadRequestError(
        `${ClientEvents.ack}: this connection has not joined thread ${threadId}`,
      );
    }
    return this.acks.acknowledge(threadId, session.userId, seq, epoch, socket.id);
  }

  private async userMessage(session: ConnectionSession, payload: unknown): Promise<object> {
    const input = parseClientPayload(userMessageSchema, payload, ClientEvents.userMessage);
    return this.userMessages.submit(
      session.userId,
      input.threadId,
      input.text,
      input.clientMessageId,
    );
  }

  /** `auth:refresh`: a new credential of the same user moves the connection's expiry. */
  private async refresh(
    socket: Socket,
    session: ConnectionSession,
    payload: unknown,
  ): Promise<object> {
    const { token } = parseClientPayload(authRefreshSchema, payload, ClientEvents.authRefresh);
    const check = await checkCredential(this.options.authenticate, {
      token,
      headers: socket.handshake.headers,
      transport: 'socket',
      address: socket.handshake.address,
    });
    if (!check.ok) throw new UnauthorizedError(`${ClientEvents.authRefresh}: ${check.reason}`);
    if (check.credential.userId !== session.userId) {
      throw new UnauthorizedError(
        `${ClientEvents.authRefresh}: the token is for another user than this connection's`,
      );
    }
    session.renew(check.credential.expiresAt);
    this.log.debug({ msg: 'credential renewed', connectionId: socket.id, userId: session.userId });
    return { expiresAt: check.credential.expiresAt };
  }
}
