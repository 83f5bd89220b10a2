import { jest } from '@jest/globals';
import { RelayUnavailableError } from '../../src/errors/relay-unavailable.error.js';
import { AvailabilityDeadlines } from '../../src/delivery/availability.js';

const never = () => new Promise<never>(() => undefined);

describe('AvailabilityDeadlines', () => {
  beforeEach(() => {
    jest.useFakeTimers();
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('passes an answer through and refuses what outlives the timeout', async () => {
    const deadlines = new AvailabilityDeadlines(1_000);
    const answered = deadlines.within(Promise.resolve(7), 'read');
    const hanging = deadlines.within(never(), 'append');
    const refused = expect(hanging).rejects.toThrow(
      'append: the relay store did not answer within 1000 ms (delivery.unavailableTimeoutMs)',
    );
    await expect(answered).resolves.toBe(7);
    let settled = false;
    hanging.catch(() => (settled = true));
    await jest.advanceTimersByTimeAsync(950);
    expect(settled).toBe(false);
    // At most one sweep period (50 ms here) after the deadline.
    await jest.advanceTimersByTimeAsync(100);
    await refused;
    await expect(hanging).rejects.toBeInstanceOf(RelayUnavailableError);
  });

  it('ignores an answer that comes after the refusal', async () => {
    const deadlines = new AvailabilityDeadlines(100);
    let answer: (value: number) => void = () => undefined;
    const late = deadlines.within(new Promise<number>((resolve) => (answer = resolve)), 'append');
    const refused = expect(late).rejects.toBeInstanceOf(RelayUnavailableError);
    await jest.advanceTimersByTimeAsync(200);
    await refused;
    answer(1);
    await expect(late).rejects.toBeInstanceOf(RelayUnavailableError);
  });

  it('turns connection errors into RELAY_UNAVAILABLE and passes other errors through', async () => {
    const deadlines = new AvailabilityDeadlines(1_000);
    const lost = new Error('Connection is closed.');
    await expect(deadlines.within(Promise.reject(lost), 'append')).rejects.toMatchObject({
      code: 'RELAY_UNAVAILABLE',
      cause: lost,
    });
    const bug = new TypeError('not a thread');
    await expect(deadlines.within(Promise.reject(bug), 'append')).rejects.toBe(bug);
  });

  it('runs its sweep only while something is in flight', async () => {
    const deadlines = new AvailabilityDeadlines(1_000);
    expect(jest.getTimerCount()).toBe(0);
    await deadlines.within(Promise.resolve(1), 'read');
    expect(jest.getTimerCount()).toBe(1);
    await jest.advanceTimersByTimeAsync(60);
    expect(jest.getTimerCount()).toBe(0);
  });
});
