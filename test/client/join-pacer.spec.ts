import { jest } from '@jest/globals';
import { JoinPacer } from '../../src/client/join-pacer.js';
import { Deferred } from '../../src/client/deferred.js';
import { TimerSet } from '../../src/client/timer-set.js';

/** Joins whose answers the test hands out; `started` lists them in the order they went out. */
function joins(pacer: JoinPacer) {
  const started: string[] = [];
  const answers = new Map<string, Deferred<void>>();
  const queue = (id: string, send = true) =>
    pacer.enqueue(() => {
      if (!send) return undefined;
      started.push(id);
      const answer = new Deferred<void>();
      answers.set(id, answer);
      return answer.promise;
    });
  const answer = async (id: string, ok = true) => {
    const deferred = answers.get(id);
    if (ok) deferred?.resolve();
    else deferred?.reject(new Error('refused'));
    // Lets the pacer see the answer.
    await Promise.resolve();
    await Promise.resolve();
  };
  return { started, queue, answer };
}

describe('JoinPacer', () => {
  it('keeps at most `limit` joins unanswered and starts the next, in order, on each answer', async () => {
    const pacer = new JoinPacer(3, new TimerSet());
    const { started, queue, answer } = joins(pacer);
    for (let i = 1; i <= 7; i += 1) queue(`t${i}`);
    expect(started).toEqual(['t1', 't2', 't3']);
    expect(pacer.outstanding).toBe(3);

    await answer('t2');
    expect(started).toEqual(['t1', 't2', 't3', 't4']);
    // A refused join frees its slot too.
    await answer('t1', false);
    expect(started).toEqual(['t1', 't2', 't3', 't4', 't5']);
    expect(pacer.outstanding).toBe(3);
  });

  it('skips a queued join that turned out to have nothing to send, without holding a slot', async () => {
    const pacer = new JoinPacer(1, new TimerSet());
    const { started, queue, answer } = joins(pacer);
    queue('t1');
    queue('left', false);
    queue('t2');
    await answer('t1');
    expect(started).toEqual(['t1', 't2']);
  });

  it('forgets the queue and the answers due on reset', async () => {
    const pacer = new JoinPacer(2, new TimerSet());
    const { started, queue, answer } = joins(pacer);
    queue('a1');
    queue('a2');
    queue('a3');
    pacer.reset();
    queue('b1');
    queue('b2');
    // A late answer from the old connection frees none of the new one's slots.
    await answer('a1');
    queue('b3');
    expect(started).toEqual(['a1', 'a2', 'b1', 'b2']);
    await answer('b1');
    expect(started).toEqual(['a1', 'a2', 'b1', 'b2', 'b3']);
  });

  it('starts nothing during a hold, then carries on', async () => {
    jest.useFakeTimers();
    try {
      const pacer = new JoinPacer(2, new TimerSet());
      const { started, queue, answer } = joins(pacer);
      queue('t1');
      queue('t2');
      queue('t3');
      pacer.holdFor(250);
      await answer('t1');
      expect(started).toEqual(['t1', 't2']);
      await jest.advanceTimersByTimeAsync(249);
      expect(started).toEqual(['t1', 't2']);
      await jest.advanceTimersByTimeAsync(1);
      expect(started).toEqual(['t1', 't2', 't3']);
    } finally {
      jest.useRealTimers();
    }
  });
});
