/**
 * `thread-relay/client`: the browser and Node SDK. Depends on socket.io-client only.
 */
export { ThreadRelayClient } from './thread-relay-client.js';
export { ThreadRelayClientError, isRetryable } from './client-error.js';
export type { ClientErrorCode, ClientErrorOptions } from './client-error.js';
export type {
  ClientStatus,
  ClientTransport,
  ErrorHandler,
  EventHandler,
  JoinOptions,
  ResetHandler,
  SendOptions,
  StatusHandler,
  ThreadRelayClientOptions,
  ThreadResetEvent,
  TokenSource,
  TransportHandler,
  UserEvent,
  UserEventHandler,
} from './client.options.js';
export type { CursorPosition } from './thread-cursor.js';
export { ClientEvents, ServerEvents, USER_MESSAGE_TYPE } from '../protocol.js';
export type {
  Ack,
  AuthRefreshRequest,
  AuthRefreshResult,
  ErrorBody,
  ErrorCode,
  HistoryPage,
  JoinRequest,
  JoinResult,
  JsonValue,
  RelayErrorNotice,
  RelaySessionNotice,
  ThreadLeftNotice,
  RelayStatusNotice,
  ResetReason,
  ThreadEvent,
  ThreadResetNotice,
  UserMessageRequest,
  UserMessageResult,
} from '../protocol.js';
