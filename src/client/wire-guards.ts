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
import {
  arrayOf,
  guard,
  isFiniteNumber,
  isNumber,
  isPresent,
  isRecord,
  isString,
  oneOf,
} from './record-checks.js';

/**
 * Shape checks for what arrives from the server. The server is trusted, but a version
 * skew or a proxy answering HTML must become a typed error, not a crash in a handler.
 */

function isSeq(value: unknown): value is number {
  return isNumber(value) && Number.isInteger(value) && value >= 0;
}

/** Events count from 1; 0 only ever stands for "before the first event". */
function isEventSeq(value: unknown): value is number {
  return isSeq(value) && value > 0;
}

/** Where a thread's log stands: reset notices, join answers and history pages all carry it. */
const THREAD_POSITION = { threadId: isString, epoch: isString, headSeq: isSeq };

export const isThreadEvent = guard<ThreadEvent>({
  id: isString,
  threadId: isString,
  seq: isEventSeq,
  epoch: isString,
  type: isString,
  payload: isPresent,
  ts: isNumber,
});

export const isResetNotice = guard<ThreadResetNotice>({
  ...THREAD_POSITION,
  reason: oneOf('epoch_mismatch', 'trimmed', 'ahead_of_log'),
});

export const isStatusNotice = guard<RelayStatusNotice>({ mode: oneOf('realtime', 'degraded') });

export const isThreadLeftNotice = guard<ThreadLeftNotice>({
  threadId: isString,
  reason: oneOf('unregistered', 'expired', 'registered', 'access_revoked'),
});

export const isSessionNotice = guard<RelaySessionNotice>({ expiresAt: isFiniteNumber });

/** The answer to `auth:refresh`; null when it is not one. */
export function toAuthRefreshResult(value: unknown): AuthRefreshResult | null {
  if (!isRecord(value)) return null;
  const { expiresAt } = value;
  if (expiresAt === null) return { expiresAt: null };
  return isFiniteNumber(expiresAt) ? { expiresAt } : null;
}

export const isJoinResult = guard<JoinResult>({ ...THREAD_POSITION, replayed: isSeq });

export const isHistoryPage = guard<HistoryPage>({
  ...THREAD_POSITION,
  messages: arrayOf(isThreadEvent),
});

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
