import type {
  AuthRefreshResult,
  HistoryPage,
  JoinResult,
  RelaySessionNotice,
  RelayStatusNotice,
  ThreadEvent,
  ThreadLeftNotice,
  ThreadResetNotice,
  UserMessageResult,
} from '../protocol.js';

/**
 * Shape checks for what arrives from the server. The server is trusted, but a version
 * skew or a proxy answering HTML must become a typed error, not a crash in a handler.
 */

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isSeq(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

export function isThreadEvent(value: unknown): value is ThreadEvent {
  return (
    isRecord(value) &&
    typeof value.id === 'string' &&
    typeof value.threadId === 'string' &&
    isSeq(value.seq) &&
    value.seq > 0 &&
    typeof value.epoch === 'string' &&
    typeof value.type === 'string' &&
    'payload' in value &&
    typeof value.ts === 'number'
  );
}

export function isResetNotice(value: unknown): value is ThreadResetNotice {
  return (
    isRecord(value) &&
    typeof value.threadId === 'string' &&
    typeof value.epoch === 'string' &&
    isSeq(value.headSeq) &&
    (value.reason === 'epoch_mismatch' ||
      value.reason === 'trimmed' ||
      value.reason === 'ahead_of_log')
  );
}

export function isStatusNotice(value: unknown): value is RelayStatusNotice {
  return isRecord(value) && (value.mode === 'realtime' || value.mode === 'degraded');
}

const LEFT_REASONS = new Set(['unregistered', 'expired', 'registered', 'access_revoked']);

export function isThreadLeftNotice(value: unknown): value is ThreadLeftNotice {
  return (
    isRecord(value) &&
    typeof value.threadId === 'string' &&
    typeof value.reason === 'string' &&
    LEFT_REASONS.has(value.reason)
  );
}

export function isSessionNotice(value: unknown): value is RelaySessionNotice {
  return isRecord(value) && typeof value.expiresAt === 'number' && Number.isFinite(value.expiresAt);
}

/** The answer to `auth:refresh`; null when it is not one. */
export function toAuthRefreshResult(value: unknown): AuthRefreshResult | null {
  if (!isRecord(value)) return null;
  const { expiresAt } = value;
  if (expiresAt === null) return { expiresAt: null };
  return typeof expiresAt === 'number' && Number.isFinite(expiresAt) ? { expiresAt } : null;
}

export function isJoinResult(value: unknown): value is JoinResult {
  return (
    isRecord(value) &&
    typeof value.threadId === 'string' &&
    typeof value.epoch === 'string' &&
    isSeq(value.headSeq) &&
    isSeq(value.replayed)
  );
}

export function isHistoryPage(value: unknown): value is HistoryPage {
  return (
    isRecord(value) &&
    typeof value.threadId === 'string' &&
    typeof value.epoch === 'string' &&
    isSeq(value.headSeq) &&
    Array.isArray(value.messages) &&
    value.messages.every(isThreadEvent)
  );
}

/**
 * The answer to `user:message` / `POST .../messages`. Only `seq` is required: the design's
 * table promises `{ ok, seq }`, the reference server adds `epoch` and `messageId`.
 */
export function toUserMessageResult(value: unknown): UserMessageResult | null {
  if (!isRecord(value) || !isSeq(value.seq)) return null;
  return {
    seq: value.seq,
    epoch: typeof value.epoch === 'string' ? value.epoch : '',
    messageId: typeof value.messageId === 'string' ? value.messageId : '',
    ...(typeof value.duplicate === 'boolean' ? { duplicate: value.duplicate } : {}),
  };
}
