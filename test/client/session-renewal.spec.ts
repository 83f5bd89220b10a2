import { jest } from '@jest/globals';
import { ThreadRelayClientError } from '../../src/client/client-error.js';
import { SessionRenewal } from '../../src/client/session-renewal.js';
import { TimerSet } from '../../src/client/timer-set.js';

/** A renewal driven by fake timers: `answers` decides what each `auth:refresh` gets back. */
function setup(renewBeforeMs: number, answer: (call: number) => Promise<number | null>) {
  const calls: number[] = [];
  const reported: ThreadRelayClientError[] = [];
  const timers = new TimerSet();
  const renewal = new SessionRenewal(timers, renewBeforeMs, {
    renew: () => {
      calls.push(Date.now());
      return answer(calls.length);
    },
    report: (error) => reported.push(error),
  });
  return { renewal, calls, reported, timers };
}

describe('SessionRenewal', () => {
  const T0 = 1_700_000_000_000;

  beforeEach(() => {
    jest.useFakeTimers({ now: T0 });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('renews renewBeforeMs before a long-lived credential expires', async () => {
    const { renewal, calls } = setup(60_000, () => Promise.resolve(null));
    renewal.start(T0 + 3_600_000);
    await jest.advanceTimersByTimeAsync(3_540_000 - 1);
    expect(calls).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    expect(calls).toEqual([T0 + 3_540_000]);
  });

  it('renews a third of the lifetime before a short-lived credential expires', async () => {
    const { renewal, calls } = setup(60_000, () => Promise.resolve(null));
    renewal.start(T0 + 3000);
    await jest.advanceTimersByTimeAsync(5000);
    expect(calls).toEqual([T0 + 2000]);
  });

  it("plans the next renewal from each answer's expiresAt, and none after null", async () => {
    // Every renewal hands out 3 s more from the moment it is made, until the fourth.
    const { renewal, calls } = setup(60_000, (call) =>
      Promise.resolve(call < 4 ? Date.now() + 3000 : null),
    );
    renewal.start(T0 + 3000);
    await jest.advanceTimersByTimeAsync(60_000);
    expect(calls).toEqual([T0 + 2000, T0 + 4000, T0 + 6000, T0 + 8000]);
  });

  it('reports a failure and retries with backoff while time remains, then lets it lapse', async () => {
    const { renewal, calls, reported } = setup(60_000, () =>
      Promise.reject(new ThreadRelayClientError('UNAUTHORIZED', 'auth:refresh: token rejected')),
    );
    renewal.start(T0 + 600_000);
    await jest.advanceTimersByTimeAsync(700_000);
    // A minute before, then 1 s, 2 s, 4 s, 8 s, 16 s later, then half the time left,
    // never closer than 100 ms to the expiry.
    expect(calls.slice(0, 7).map((at) => at - T0)).toEqual([
      540_000, 541_000, 543_000, 547_000, 555_000, 571_000, 585_500,
    ]);
    const last = calls.at(-1) ?? 0;
    expect(last).toBeLessThan(T0 + 600_000 - 100);
    expect(last).toBeGreaterThan(T0 + 600_000 - 1000);
    expect(reported).toHaveLength(calls.length);
    expect(reported.every((error) => error.code === 'UNAUTHORIZED')).toBe(true);
  });

  it("waits at least the server's retryAfterMs before retrying", async () => {
    const { renewal, calls } = setup(60_000, (call) =>
      call === 1
        ? Promise.reject(
            new ThreadRelayClientError('RATE_LIMITED', 'slow down', { retryAfterMs: 7000 }),
          )
        : Promise.resolve(null),
    );
    renewal.start(T0 + 600_000);
    await jest.advanceTimersByTimeAsync(600_000);
    expect(calls.map((at) => at - T0)).toEqual([540_000, 547_000]);
  });

  it('asks again, quietly, when the token function gave back a token that expires no later', async () => {
    const expiresAt = T0 + 30_000;
    const { renewal, calls, reported } = setup(5000, (call) =>
      Promise.resolve(call < 3 ? expiresAt : call === 3 ? T0 + 90_000 : null),
    );
    renewal.start(expiresAt);
    await jest.advanceTimersByTimeAsync(29_000);
    expect(calls.map((at) => at - T0)).toEqual([25_000, 26_000, 28_000]);
    expect(reported).toEqual([]);
    // Renewed for real: the next one is planned from the new expiry.
    await jest.advanceTimersByTimeAsync(90_000);
    expect(calls.map((at) => at - T0)).toEqual([25_000, 26_000, 28_000, 85_000]);
  });

  it('renews at most twice a second when every expiry looks past (a clock ahead of the server)', async () => {
    // The server grants 60 s each time, but this clock is 2 minutes ahead of it.
    const { renewal, calls } = setup(60_000, () => Promise.resolve(Date.now() - 60_000));
    renewal.start(T0 - 61_000);
    await jest.advanceTimersByTimeAsync(2000);
    expect(calls.map((at) => at - T0)).toEqual([0, 500, 1000, 1500, 2000]);
  });

  it('plans nothing more once stopped, even from an answer still on its way', async () => {
    let answer: (expiresAt: number) => void = () => undefined;
    const { renewal, calls } = setup(1000, () => new Promise<number>((r) => (answer = r)));
    renewal.start(T0 + 10_000);
    await jest.advanceTimersByTimeAsync(9000);
    expect(calls).toHaveLength(1);
    renewal.stop();
    answer(Date.now() + 10_000);
    await jest.advanceTimersByTimeAsync(60_000);
    expect(calls).toHaveLength(1);

    renewal.start(Date.now() + 10_000);
    renewal.stop();
    await jest.advanceTimersByTimeAsync(60_000);
    expect(calls).toHaveLength(1);
  });
});
