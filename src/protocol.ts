/**
 * The wire protocol shared by the server and the client SDK. Types and constants only:
 * the client imports this file, so it must not import NestJS or Node built-ins.
 */

export type JsonValue =
  string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** One event of a thread's log, as stored and as sent on the wire (`thread:event`). */
export interface ThreadEvent<P = JsonValue> {
  id: string;
  threadId: string;
  seq: number;
  epoch: string;
  type: string;
  payload: P;
  runId?: string;
  ts: number;
}

export interface ThreadResetNotice {
  threadId: string;
  epoch: string;
  headSeq: number;
  reason: ResetReason;
}

export type ResetReason = 'epoch_mismatch' | 'trimmed' | 'ahead_of_log';

export interface RelayStatusNotice {
  mode: 'realtime' | 'degraded';
  reason?: string;
}

/** Every code the relay answers with, on sockets, HTTP and SSE alike. */
export type ErrorCode =
  | 'BAD_REQUEST'
  | 'INVALID_ID'
  | 'INVALID_EVENT_TYPE'
  | 'PAYLOAD_NOT_JSON'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNAUTHORIZED'
  | 'TOKEN_EXPIRED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'THREAD_NOT_FOUND'
  | 'THREAD_OWNERSHIP_CONFLICT'
  | 'RUN_CONFLICT'
  | 'RATE_LIMITED'
  | 'LIMIT_EXCEEDED'
  | 'RELAY_UNAVAILABLE'
  | 'DELIVERY_TIMEOUT'
  | 'INVALID_OPTION'
  | 'INTERNAL';

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  /** With `RATE_LIMITED`: how long to wait before trying again. */
  retryAfterMs?: number;
}

export type Ack<T extends object = object> = ({ ok: true } & T) | { ok: false; error: ErrorBody };

export interface JoinRequest {
  threadId: string;
  lastSeq?: number;
  epoch?: string;
}
export interface JoinResult {
  threadId: string;
  epoch: string;
  headSeq: number;
  replayed: number;
  /** Set when the cursor cannot be served; `thread:reset` follows. */
  reset?: ResetReason;
}
export interface LeaveRequest {
  threadId: string;
}
export interface AckRequest {
  threadId: string;
  seq: number;
  /** The log epoch `seq` counts in; an ack of another epoch than the log's is ignored. */
  epoch?: string;
}
export interface UserMessageRequest {
  threadId: string;
  text: string;
  clientMessageId: string;
}
export interface UserMessageResult {
  seq: number;
  epoch: string;
  messageId: string;
  /** The `clientMessageId` was seen before: this is the first send's result, nothing stored. */
  duplicate?: boolean;
}

/** `auth:refresh`: a fresh credential for the live connection, before the current one expires. */
export interface AuthRefreshRequest {
  token: string;
}
export interface AuthRefreshResult {
  /** When the new credential expires (epoch ms); null when it does not. */
  expiresAt: number | null;
}

/**
 * `thread:left`: the server took the connection out of a thread, because who may use it
 * changed (it was unregistered, its lease ran out, it was registered to someone else, or
 * its access was revoked). Nothing more of it arrives; joining again is refused or
 * registers a new thread.
 */
export interface ThreadLeftNotice {
  threadId: string;
  reason: 'unregistered' | 'expired' | 'registered' | 'access_revoked';
}

/** `relay:session`, sent on connect when the credential expires: renew before `expiresAt`. */
export interface RelaySessionNotice {
  expiresAt: number;
}

/** `relay:error`: a failure no ack could carry (no ack asked, a replay that broke off, expiry). */
export interface RelayErrorNotice {
  /** The client event it answers, or null for the connection itself (`TOKEN_EXPIRED`, limits). */
  event: string | null;
  error: ErrorBody;
}

export interface HistoryPage {
  threadId: string;
  epoch: string;
  headSeq: number;
  messages: ThreadEvent[];
}

export const ClientEvents = {
  join: 'thread:join',
  leave: 'thread:leave',
  ack: 'thread:ack',
  userMessage: 'user:message',
  authRefresh: 'auth:refresh',
} as const;

export const ServerEvents = {
  event: 'thread:event',
  reset: 'thread:reset',
  status: 'relay:status',
  userEvent: 'user:event',
  error: 'relay:error',
  session: 'relay:session',
  left: 'thread:left',
} as const;

/** The type under which a user's own message is stored in the thread log. */
export const USER_MESSAGE_TYPE = 'user_message';
