import { jest } from '@jest/globals';
import { AckBatcher } from '../../src/client/ack-batcher.js';
import { TimerSet } from '../../src/client/timer-set.js';

describe('AckBatcher', () => {
  let timers: TimerSet;
  let sent: Array<{ at: number; threadId: string; seq: number }>;
  let connected: boolean;

  const batcher = (windowMs: number, intervalMs: number) =>
    new AckBatcher(windowMs, intervalMs, timers, (threadId, seq) => {
      if (!connected) return Promise.resolve(false);
      sent.push({ at: Date.now(), threadId, seq });
      return Promise.resolve(true);
    });

  beforeEach(() => {
    jest.useFakeTimers({ now: 0 });
    timers = new TimerSet();
    sent = [];
    connected = true;
  });
  afterEach(() => {
    timers.clear();
    jest.useRealTimers();
  });

  it('acks a lone delivery one window after it', async () => {
    const acks = batcher(50, 250);
    acks.note('t1', 1);
    await jest.advanceTimersByTimeAsync(49);
    expect(sent).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    expect(sent).toEqual([{ at: 50, threadId: 't1', seq: 1 }]);
  });

  it('acks a streaming thread at most once per interval, always up to its last seq', async () => {
    const acks = batcher(50, 250);
    // One event every 20 ms for a second.
    for (let seq = 1; seq <= 50; seq++) {
      acks.note('t1', seq);
      await jest.advanceTimersByTimeAsync(20);
    }
    await jest.advanceTimersByTimeAsync(300);
    const gaps = sent.slice(1).map((ack, i) => ack.at - (sent[i]?.at ?? 0));
    expect(gaps.every((gap) => gap >= 250)).toBe(true);
    expect(sent.length).toBeLessThanOrEqual(5);
    expect(sent.at(-1)?.seq).toBe(50);
  });

  it('keeps the interval per thread: a quiet thread is not held back by a busy one', async () => {
    const acks = batcher(50, 250);
    acks.note('busy', 1);
    await jest.advanceTimersByTimeAsync(50);
    acks.note('busy', 2);
    acks.note('quiet', 1);
    await jest.advanceTimersByTimeAsync(50);
    expect(sent.map((ack) => [ack.threadId, ack.seq, ack.at])).toEqual([
      ['busy', 1, 50],
      ['quiet', 1, 100],
    ]);
    await jest.advanceTimersByTimeAsync(200);
    expect(sent.at(-1)).toEqual({ at: 300, threadId: 'busy', seq: 2 });
  });

  it('does not count an ack that could not go out against the interval', async () => {
    const acks = batcher(50, 250);
    connected = false;
    acks.note('t1', 1);
    await jest.advanceTimersByTimeAsync(50);
    expect(sent).toEqual([]);
    connected = true;
    acks.schedule();
    await jest.advanceTimersByTimeAsync(50);
    expect(sent).toEqual([{ at: 100, threadId: 't1', seq: 1 }]);
  });

  it('flushes a thread at once on request, whatever its interval', async () => {
    const acks = batcher(50, 250);
    acks.note('t1', 1);
    await jest.advanceTimersByTimeAsync(50);
    acks.note('t1', 2);
    await acks.flushThread('t1');
    expect(sent.map((ack) => [ack.seq, ack.at])).toEqual([
      [1, 50],
      [2, 50],
    ]);
  });

  it('acks every window with an interval of 0', async () => {
    const acks = batcher(50, 0);
    for (let seq = 1; seq <= 4; seq++) {
      acks.note('t1', seq);
      await jest.advanceTimersByTimeAsync(100);
    }
    expect(sent.map((ack) => ack.seq)).toEqual([1, 2, 3, 4]);
  });
});
