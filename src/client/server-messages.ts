import type { Socket } from 'socket.io-client';
import {
  ServerEvents,
  type ErrorBody,
  type RelaySessionNotice,
  type RelayStatusNotice,
  type ThreadEvent,
  type ThreadLeftNotice,
  type ThreadResetNotice,
} from '../protocol.js';
import { ThreadRelayClientError } from './client-error.js';
import type { UserEvent } from './client.options.js';
import { isRecord } from './record-checks.js';
import { isErrorBody, retryAfterOf } from './socket-request.js';
import {
  isResetNotice,
  isSessionNotice,
  isStatusNotice,
  isThreadEvent,
  isThreadLeftNotice,
} from './wire-guards.js';

/** What the server sends unasked, each message checked for its shape first. */
export interface ServerMessageHandlers {
  event(event: ThreadEvent): void;
  reset(notice: ThreadResetNotice): void;
  status(notice: RelayStatusNotice): void;
  userEvent(event: UserEvent): void;
  /**
   * `relay:error`: a failure no ack could carry: a replay that broke off, a refused ack, or
   * the connection itself (`event` null) when its credential lapsed or a limit closes it.
   * The server disconnects after those; the reconnect gets a fresh token.
   */
  relayError(error: ThreadRelayClientError): void;
  threadLeft(notice: ThreadLeftNotice): void;
  session(notice: RelaySessionNotice): void;
  /** A message without the shape it should have (a version skew, a broken proxy). */
  malformed(error: ThreadRelayClientError): void;
}

/** Wraps a socket.io listener so that nothing the client does throws into socket.io. */
export type ListenerGuard = <A extends unknown[]>(fn: (...args: A) => void) => (...args: A) => void;

/** Subscribes `handlers` to the server's messages on `socket`. */
export function listenToServer(
  socket: Socket,
  handlers: ServerMessageHandlers,
  guard: ListenerGuard,
): void {
  const on = <T>(
    name: string,
    isValid: (payload: unknown) => payload is T,
    handle: (payload: T) => void,
  ): void => {
    socket.on(
      name,
      guard((payload: unknown) => {
        if (isValid(payload)) handle(payload);
        else handlers.malformed(new ThreadRelayClientError('BAD_MESSAGE', `${name}: malformed`));
      }),
    );
  };
  on(ServerEvents.event, isThreadEvent, (event) => handlers.event(event));
  on(ServerEvents.reset, isResetNotice, (notice) => handlers.reset(notice));
  on(ServerEvents.status, isStatusNotice, (notice) => handlers.status(notice));
  on(ServerEvents.userEvent, isUserEvent, (event) => handlers.userEvent(event));
  on(ServerEvents.error, isRelayErrorPayload, (payload) => {
    const { error: body } = payload;
    const event = typeof payload.event === 'string' ? payload.event : 'connection';
    handlers.relayError(
      new ThreadRelayClientError(body.code, `${event}: ${body.message}`, {
        retryAfterMs: retryAfterOf(body),
      }),
    );
  });
  on(ServerEvents.session, isSessionNotice, (notice) => handlers.session(notice));
  on(ServerEvents.left, isThreadLeftNotice, (notice) => handlers.threadLeft(notice));
}

function isUserEvent(payload: unknown): payload is UserEvent {
  return isRecord(payload) && typeof payload.type === 'string';
}

/** `relay:error` as far as the client relies on it: an error body, and maybe the event. */
function isRelayErrorPayload(payload: unknown): payload is { event?: unknown; error: ErrorBody } {
  return isRecord(payload) && isErrorBody(payload.error);
}
