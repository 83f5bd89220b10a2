import { jest } from '@jest/globals';
import { LimitExceededError } from '../../src/errors/limit-exceeded.error.js';
import { MemoryTicketStore } from '../../src/sse/memory-ticket-store.js';

describe('MemoryTicketStore', () => {
  afterEach(() => jest.useRealTimers());

  it('gives a ticket once, and not after its TTL', async () => {
    jest.useFakeTimers({ now: 1_000 });
    const store = new MemoryTicketStore();
    await store.put('a', 'grant-a', 60_000);
    await store.put('b', 'grant-b', 60_000);
    await expect(store.take('a')).resolves.toBe('grant-a');
    await expect(store.take('a')).resolves.toBeNull();
    jest.setSystemTime(61_000);
    await expect(store.take('b')).resolves.toBeNull();
  });

  it('refuses new tickets past 100,000 waiting, and takes them again once old ones lapse', async () => {
    jest.useFakeTimers({ now: 1_000 });
    const store = new MemoryTicketStore();
    for (let i = 0; i < 100_000; i++) await store.put(`t${i}`, 'grant', 60_000);
    await expect(store.put('one-more', 'grant', 60_000)).rejects.toBeInstanceOf(LimitExceededError);
    jest.setSystemTime(61_000);
    await expect(store.put('one-more', 'grant', 60_000)).resolves.toBeUndefined();
    await expect(store.take('one-more')).resolves.toBe('grant');
  });
});
