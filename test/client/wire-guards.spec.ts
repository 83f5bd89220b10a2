import type { ThreadEvent } from '../../src/protocol.js';
import { isRecord } from '../../src/client/record-checks.js';
import {
  isHistoryPage,
  isJoinResult,
  isResetNotice,
  isSessionNotice,
  isStatusNotice,
  isThreadEvent,
  isThreadLeftNotice,
} from '../../src/client/wire-guards.js';

const event: ThreadEvent = {
  id: 'm1',
  threadId: 't1',
  seq: 1,
  epoch: 'e1',
  type: 'text',
  payload: { text: 'hi' },
  ts: 1,
};
const position = { threadId: 't1', epoch: 'e1', headSeq: 0 };

function without(value: object, key: string): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...value };
  delete copy[key];
  return copy;
}

describe('wire guards', () => {
  it('isRecord takes plain objects only', () => {
    expect(isRecord({})).toBe(true);
    expect(isRecord(null)).toBe(false);
    expect(isRecord([])).toBe(false);
    expect(isRecord('{}')).toBe(false);
  });

  describe('isThreadEvent', () => {
    it('takes an event, with or without a run id, and any payload as long as it is there', () => {
      expect(isThreadEvent(event)).toBe(true);
      expect(isThreadEvent({ ...event, runId: 'r1' })).toBe(true);
      expect(isThreadEvent({ ...event, payload: null })).toBe(true);
      expect(isThreadEvent({ ...event, payload: undefined })).toBe(true);
      expect(isThreadEvent({ ...event, payload: 'text' })).toBe(true);
    });

    it.each(['id', 'threadId', 'seq', 'epoch', 'type', 'payload', 'ts'])(
      'refuses an event without %s',
      (key) => {
        expect(isThreadEvent(without(event, key))).toBe(false);
      },
    );

    it.each([0, -1, 1.5, '1', Number.NaN])('refuses seq %p (events count from 1)', (seq) => {
      expect(isThreadEvent({ ...event, seq })).toBe(false);
    });

    it('refuses fields of the wrong type', () => {
      expect(isThreadEvent({ ...event, id: 1 })).toBe(false);
      expect(isThreadEvent({ ...event, epoch: null })).toBe(false);
      expect(isThreadEvent({ ...event, ts: '1' })).toBe(false);
      expect(isThreadEvent([event])).toBe(false);
    });
  });

  describe('isResetNotice', () => {
    it.each(['epoch_mismatch', 'trimmed', 'ahead_of_log'])('takes reason %s', (reason) => {
      expect(isResetNotice({ ...position, reason })).toBe(true);
    });

    it('refuses other reasons and a bad position', () => {
      expect(isResetNotice({ ...position, reason: 'other' })).toBe(false);
      expect(isResetNotice(without({ ...position, reason: 'trimmed' }, 'epoch'))).toBe(false);
      expect(isResetNotice({ ...position, headSeq: -1, reason: 'trimmed' })).toBe(false);
      expect(isResetNotice({ ...position, headSeq: 0.5, reason: 'trimmed' })).toBe(false);
    });
  });

  it('isStatusNotice takes the two modes', () => {
    expect(isStatusNotice({ mode: 'realtime' })).toBe(true);
    expect(isStatusNotice({ mode: 'degraded', reason: 'redis' })).toBe(true);
    expect(isStatusNotice({ mode: 'other' })).toBe(false);
    expect(isStatusNotice({})).toBe(false);
  });

  it('isThreadLeftNotice takes the known reasons', () => {
    for (const reason of ['unregistered', 'expired', 'registered', 'access_revoked']) {
      expect(isThreadLeftNotice({ threadId: 't1', reason })).toBe(true);
    }
    expect(isThreadLeftNotice({ threadId: 't1', reason: 'other' })).toBe(false);
    expect(isThreadLeftNotice({ threadId: 't1', reason: 'toString' })).toBe(false);
    expect(isThreadLeftNotice({ threadId: 1, reason: 'expired' })).toBe(false);
  });

  it('isSessionNotice takes a finite expiry only', () => {
    expect(isSessionNotice({ expiresAt: 1 })).toBe(true);
    expect(isSessionNotice({ expiresAt: Number.POSITIVE_INFINITY })).toBe(false);
    expect(isSessionNotice({ expiresAt: Number.NaN })).toBe(false);
    expect(isSessionNotice({ expiresAt: null })).toBe(false);
  });

  describe('isJoinResult', () => {
    it('takes a position with a replay count, reset or not', () => {
      expect(isJoinResult({ ...position, replayed: 0 })).toBe(true);
      expect(isJoinResult({ ...position, replayed: 3, reset: 'trimmed' })).toBe(true);
    });

    it('refuses a missing or negative count and a bad position', () => {
      expect(isJoinResult(position)).toBe(false);
      expect(isJoinResult({ ...position, replayed: -1 })).toBe(false);
      expect(isJoinResult({ ...position, threadId: 1, replayed: 0 })).toBe(false);
    });
  });

  describe('isHistoryPage', () => {
    it('takes a position with events, or none', () => {
      expect(isHistoryPage({ ...position, messages: [] })).toBe(true);
      expect(isHistoryPage({ ...position, headSeq: 1, messages: [event] })).toBe(true);
    });

    it('refuses a page with a bad event or without messages', () => {
      expect(isHistoryPage({ ...position, messages: [event, { ...event, seq: 0 }] })).toBe(false);
      expect(isHistoryPage({ ...position, messages: {} })).toBe(false);
      expect(isHistoryPage(position)).toBe(false);
      expect(isHistoryPage({ ...position, headSeq: '1', messages: [] })).toBe(false);
    });
  });
});
