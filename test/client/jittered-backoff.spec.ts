import { jest } from '@jest/globals';
import { JitteredBackoff } from '../../src/client/jittered-backoff.js';
import { TimerSet } from '../../src/client/timer-set.js';

describe('JitteredBackoff', () => {
  let timers: TimerSet;
  let sleeps: number[];

  beforeEach(() => {
    timers = new TimerSet();
    sleeps = [];
    jest.spyOn(timers, 'sleep').mockImplementation((ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    });
  });

  afterEach(() => timers.clear());

  it('waits between half and all of a doubling delay, up to the cap', async () => {
    const backoff = new JitteredBackoff(timers, 100, 300);
    for (let i = 0; i < 4; i += 1) await backoff.wait();
    const full = [100, 200, 300, 300];
    expect(sleeps).toHaveLength(full.length);
    full.forEach((max, i) => {
      expect(sleeps[i]).toBeGreaterThanOrEqual(max / 2);
      expect(sleeps[i]).toBeLessThanOrEqual(max);
    });
  });

  it('waits what was asked, and the wait after it is longer all the same', async () => {
    const backoff = new JitteredBackoff(timers, 100, 1000);
    await backoff.wait(5000);
    await backoff.wait();
    expect(sleeps[0]).toBe(5000);
    expect(sleeps[1]).toBeGreaterThanOrEqual(100);
  });

  it('starts from the shortest wait again after reset()', async () => {
    const backoff = new JitteredBackoff(timers, 100, 1000);
    await backoff.wait();
    await backoff.wait();
    backoff.reset();
    await backoff.wait();
    expect(sleeps[2]).toBeLessThanOrEqual(100);
  });

  it('interrupt() ends the current wait', async () => {
    const real = new TimerSet();
    const backoff = new JitteredBackoff(real, 60_000, 60_000);
    const waited = backoff.wait();
    backoff.interrupt();
    await expect(waited).resolves.toBeUndefined();
    real.clear();
  });
});
