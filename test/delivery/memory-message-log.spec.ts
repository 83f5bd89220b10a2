import { jest } from '@jest/globals';
import { describeMessageLog } from '../contracts/message-log.contract.js';
import { MemoryMessageLog } from '../../src/delivery/memory-message-log.js';

describeMessageLog('MemoryMessageLog', (retention) => {
  let now = 1_700_000_000_000;
  const log = new MemoryMessageLog(retention, () => now);
  return Promise.resolve({
    log,
    advance: (ms: number) => {
      now += ms;
    },
  });
});

describe('MemoryMessageLog sweep', () => {
  beforeEach(() => {
    jest.useFakeTimers();
  });

  afterEach(() => {
    jest.useRealTimers();
  });

  const event = (threadId: string) => ({
    id: `${threadId}-e`,
    threadId,
    type: 'agent_started',
    payload: null,
    ts: 0,
  });

  it('frees expired threads nobody touches again, then stops its timer', async () => {
    const log = new MemoryMessageLog({ ttlSeconds: 1, maxPerThread: 10 }, () => Date.now());
    expect(jest.getTimerCount()).toBe(0);
    await log.append(event('a'));
    await log.append(event('b'));
    await log.ensure('c');
    expect(log.threadCount).toBe(3);
    expect(jest.getTimerCount()).toBe(1);

    jest.advanceTimersByTime(1_000);
    expect(log.threadCount).toBe(0);
    expect(jest.getTimerCount()).toBe(0);
    await log.close();
  });

  it('keeps threads appended to within the TTL', async () => {
    const log = new MemoryMessageLog({ ttlSeconds: 2, maxPerThread: 10 }, () => Date.now());
    await log.append(event('a'));
    await log.append(event('b'));
    jest.advanceTimersByTime(1_500);
    await log.append(event('b'));
    jest.advanceTimersByTime(1_000);
    expect(log.threadCount).toBe(1);
    expect((await log.state('b')).headSeq).toBe(2);
    await log.close();
  });

  it('close() clears the sweep timer', async () => {
    const log = new MemoryMessageLog({ ttlSeconds: 60, maxPerThread: 10 }, () => Date.now());
    await log.append(event('a'));
    expect(jest.getTimerCount()).toBe(1);
    await log.close();
    expect(jest.getTimerCount()).toBe(0);
  });
});
