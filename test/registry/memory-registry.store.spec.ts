import { collectPages, describeRegistryStore } from '../contracts/registry-store.contract.js';
import { MemoryRegistryStore } from '../../src/registry/memory-registry.store.js';

describeRegistryStore('MemoryRegistryStore', () => {
  let now = 1_700_000_000_000;
  const store = new MemoryRegistryStore({ now: () => now });
  return Promise.resolve({
    store,
    passTime: (ms: number) => {
      now += ms;
      return Promise.resolve();
    },
    cleanup: () => store.close(),
  });
});

describe('MemoryRegistryStore', () => {
  it('uses the real clock when none is given', async () => {
    const store = new MemoryRegistryStore();
    await store.heartbeatInstance('instance-1', 60_000);
    await store.heartbeatInstance('instance-2', -1);
    await expect(store.deadInstances()).resolves.toEqual(['instance-2']);
  });

  it('hands out copies, so callers cannot change what is stored', async () => {
    const store = new MemoryRegistryStore();
    const result = await store.claimThread({
      threadId: 't-1',
      ownerId: 'alice',
      createdAt: 1,
      metadata: { title: 'a' },
    });
    if (!('record' in result)) throw new Error(`claim ${result.outcome}`);
    const { record } = result;
    record.metadata.title = 'changed';
    record.ownerId = 'mallory';
    await expect(store.getThread('t-1')).resolves.toMatchObject({
      ownerId: 'alice',
      metadata: { title: 'a' },
    });
  });

  it('fills every page but the last up to the limit', async () => {
    const store = new MemoryRegistryStore();
    for (let i = 0; i < 250; i += 1) {
      await store.putConnection({
        connectionId: `c-${i}`,
        userId: 'u',
        instanceId: 'i',
        transport: 'websocket',
        connectedAt: i,
        lastSeenAt: i,
        threads: [],
      });
    }
    const sizes: number[] = [];
    const { items } = await collectPages(async (cursor, limit) => {
      const page = await store.listConnections(cursor, limit);
      sizes.push(page.items.length);
      return page;
    }, 50);
    expect(sizes).toEqual([50, 50, 50, 50, 50]);
    expect(items.map((r) => r.connectionId)).toEqual(
      Array.from({ length: 250 }, (_, i) => `c-${i}`),
    );
  });
});
