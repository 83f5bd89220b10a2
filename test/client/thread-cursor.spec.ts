import type { ThreadEvent } from '../../src/protocol.js';
import { ThreadCursor, type AcceptResult } from '../../src/client/thread-cursor.js';

const T = 'thread-1';

function ev(seq: number, epoch = 'e1'): ThreadEvent {
  return { id: `id-${epoch}-${seq}`, threadId: T, seq, epoch, type: 't', payload: null, ts: 0 };
}

function delivered(result: AcceptResult): number[] {
  return result.kind === 'delivered' ? result.events.map((event) => event.seq) : [];
}

describe('ThreadCursor', () => {
  it('delivers in order and drops what it has already delivered', () => {
    const cursor = new ThreadCursor(T);
    expect(delivered(cursor.accept(ev(1)))).toEqual([1]);
    expect(delivered(cursor.accept(ev(2)))).toEqual([2]);
    expect(cursor.accept(ev(2)).kind).toBe('duplicate');
    expect(cursor.accept(ev(1)).kind).toBe('duplicate');
    expect(cursor.position()).toEqual({ epoch: 'e1', lastSeq: 2 });
  });

  it('buffers events ahead of the cursor and releases them when the missing one arrives', () => {
    const cursor = new ThreadCursor(T, { lastSeq: 0, epoch: 'e1' });
    expect(cursor.accept(ev(3)).kind).toBe('buffered');
    expect(cursor.accept(ev(3)).kind).toBe('duplicate');
    expect(cursor.hasGap).toBe(true);
    expect(delivered(cursor.accept(ev(1)))).toEqual([1]);
    expect(delivered(cursor.accept(ev(2)))).toEqual([2, 3]);
    expect(cursor.hasGap).toBe(false);
  });

  it('reports another epoch than the known one instead of delivering it', () => {
    const cursor = new ThreadCursor(T, { lastSeq: 4, epoch: 'e1' });
    expect(cursor.accept(ev(1, 'e2'))).toEqual({ kind: 'epoch_changed', epoch: 'e2' });
    expect(cursor.lastSeq).toBe(4);
  });

  it('anchors a fresh join where the server starts its replay (a trimmed log)', () => {
    const cursor = new ThreadCursor(T);
    expect(cursor.joinRequest()).toEqual({ threadId: T });
    // Replayed events can arrive before the join answer is processed.
    expect(cursor.accept(ev(11)).kind).toBe('buffered');
    expect(cursor.hasGap).toBe(false);
    expect(cursor.anchor('e1', 10).map((event) => event.seq)).toEqual([11]);
    expect(cursor.joinRequest()).toEqual({ threadId: T, lastSeq: 11, epoch: 'e1' });
  });

  it('knows of a missing tail once the head is announced', () => {
    const cursor = new ThreadCursor(T, { lastSeq: 2, epoch: 'e1' });
    cursor.noteHead('e1', 5);
    expect(cursor.hasGap).toBe(true);
    cursor.noteHead('other', 9);
    expect(delivered(cursor.accept(ev(3)))).toEqual([3]);
  });

  it('holds events during a reset and replays those of the new epoch after it', () => {
    const cursor = new ThreadCursor(T, { lastSeq: 7, epoch: 'e1' });
    cursor.beginReset();
    expect(cursor.resetting).toBe(true);
    expect(cursor.accept(ev(8, 'e1')).kind).toBe('held');
    expect(cursor.accept(ev(3, 'e2')).kind).toBe('held');
    expect(cursor.accept(ev(2, 'e2')).kind).toBe('held');
    const outcome = cursor.completeReset('e2', 1);
    expect(outcome.delivered.map((event) => event.seq)).toEqual([2, 3]);
    expect(outcome.newerEpoch).toBeUndefined();
    expect(cursor.position()).toEqual({ epoch: 'e2', lastSeq: 3 });
  });

  it('asks for another reset when held events come from yet another epoch', () => {
    const cursor = new ThreadCursor(T, { lastSeq: 1, epoch: 'e1' });
    cursor.beginReset();
    cursor.accept(ev(1, 'e3'));
    expect(cursor.completeReset('e2', 0).newerEpoch).toBe('e3');
  });

  it('treats a reset notice for a cursor it has moved past as covered', () => {
    const cursor = new ThreadCursor(T, { lastSeq: 5, epoch: 'e2' });
    expect(cursor.covers({ epoch: 'e2', headSeq: 4, reason: 'epoch_mismatch' })).toBe(true);
    expect(cursor.covers({ epoch: 'e2', headSeq: 9, reason: 'trimmed' })).toBe(true);
    expect(cursor.covers({ epoch: 'e3', headSeq: 0, reason: 'epoch_mismatch' })).toBe(false);
    expect(cursor.covers({ epoch: 'e2', headSeq: 3, reason: 'ahead_of_log' })).toBe(false);
  });

  it('resumes from a position given by the application', () => {
    expect(new ThreadCursor(T, { lastSeq: 4 }).joinRequest()).toEqual({ threadId: T, lastSeq: 4 });
    const cursor = new ThreadCursor(T, { lastSeq: 4, epoch: 'e1' });
    expect(cursor.joinRequest()).toEqual({ threadId: T, lastSeq: 4, epoch: 'e1' });
    expect(cursor.accept(ev(4)).kind).toBe('duplicate');
    expect(delivered(cursor.accept(ev(5)))).toEqual([5]);
  });
});
