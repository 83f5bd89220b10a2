import { BadRequestError } from '../../src/errors/bad-request.error.js';
import type {
  RegistryStore,
  ClaimResult,
  RunClaim,
  ThreadLease,
} from '../../src/registry/registry-store.interface.js';
import type { ConnectionRecord, Page } from '../../src/registry/registry.types.js';
import type { ThreadRecord } from '../../src/thread-record.js';
import { waitUntil } from '../support/wait-until.js';

export interface RegistryStoreHarness {
  store: RegistryStore;
  /**
   * Another store over the same data through its own connection, as a second instance
   * would have. Absent for stores that cannot be shared (memory): tests use `store`.
   */
  openPeer?: () => Promise<RegistryStore>;
  /** Lets `ms` of liveness time pass: a fake clock jumps, a real one is waited on. */
  passTime: (ms: number) => Promise<void>;
  /** Removes what the harness created (keys, clients); runs after every test. */
  cleanup: () => Promise<void>;
}

const CREATED_AT = 1_700_000_000_000;
const LEASE: ThreadLease = { ttlSeconds: 3_600, maxPerUser: 100 };

function thread(threadId: string, ownerId: string, createdAt = CREATED_AT): ThreadRecord {
  return {
    threadId,
    ownerId,
    createdAt,
    metadata: { title: 'Trip to Lisbon', turns: 3, pinned: true, archivedBy: null },
  };
}

function connection(connectionId: string, over: Partial<ConnectionRecord> = {}): ConnectionRecord {
  return {
    connectionId,
    userId: 'user-1',
    instanceId: 'instance-1',
    transport: 'websocket',
    connectedAt: 1_000,
    lastSeenAt: 1_000,
    threads: [],
    ...over,
  };
}

function ownerOf(result: ClaimResult | undefined): string | undefined {
  return result && 'record' in result ? result.record.ownerId : undefined;
}

function mapped(threadId: string): RunClaim {
  return { outcome: 'mapped', threadId };
}

function sorted(values: Iterable<string>): string[] {
  return [...values].sort();
}

function normalized(record: ConnectionRecord | null): ConnectionRecord | null {
  return record && { ...record, threads: sorted(record.threads) };
}

function shuffled<T>(values: T[]): T[] {
  const copy = [...values];
  for (let i = copy.length - 1; i > 0; i -= 1) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}

/** Follows cursors to the end; fails instead of looping if a store never ends a listing. */
export async function collectPages<T>(
  list: (cursor: string | null, limit: number) => Promise<Page<T>>,
  limit: number,
): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const page: Page<T> = await list(cursor, limit);
    items.push(...page.items);
    cursor = page.nextCursor;
    pages += 1;
    if (pages > 10_000) throw new Error('listing did not end');
  } while (cursor !== null);
  return { items, pages };
}

/**
 * The behaviour every `RegistryStore` must have, run against each implementation
 * (memory and Redis) so they cannot drift apart. `factory` is called once per test.
 */
export function describeRegistryStore(
  name: string,
  factory: () => Promise<RegistryStoreHarness>,
): void {
  describe(`${name} (RegistryStore contract)`, () => {
    let harness: RegistryStoreHarness;
    let store: RegistryStore;

    /** The store itself plus `count - 1` peers where the store can be shared. */
    async function stores(count: number): Promise<RegistryStore[]> {
      const { openPeer } = harness;
      if (!openPeer) return [store];
      const peers = await Promise.all(Array.from({ length: count - 1 }, () => openPeer()));
      return [store, ...peers];
    }

    beforeEach(async () => {
      harness = await factory();
      store = harness.store;
    });

    afterEach(async () => {
      await harness.cleanup();
    });

    describe('threads', () => {
      it('claims an unowned thread and reads it back', async () => {
        const record = thread('t-1', 'alice');
        await expect(store.claimThread(record)).resolves.toEqual({ outcome: 'created', record });
        await expect(store.getThread('t-1')).resolves.toEqual(record);
        await expect(store.threadsOfUser('alice')).resolves.toEqual(['t-1']);
      });

      it('returns the stored record, created false, when the owner claims again', async () => {
        const first = thread('t-1', 'alice');
        await store.claimThread(first);
        const again = await store.claimThread({
          ...thread('t-1', 'alice', CREATED_AT + 5_000),
          metadata: { title: 'changed' },
        });
        expect(again).toEqual({ outcome: 'existing', record: first });
        await expect(store.getThread('t-1')).resolves.toEqual(first);
        await expect(store.threadsOfUser('alice')).resolves.toEqual(['t-1']);
      });

      it('keeps the first owner when another user claims the thread', async () => {
        await store.claimThread(thread('t-1', 'alice'));
        const result = await store.claimThread(thread('t-1', 'mallory'));
        expect(result).toMatchObject({ outcome: 'existing', record: { ownerId: 'alice' } });
        await expect(store.threadsOfUser('mallory')).resolves.toEqual([]);
      });

      it('lets exactly one of 100 parallel claims by different users win', async () => {
        const results = await Promise.all(
          Array.from({ length: 100 }, (_, i) =>
            store.claimThread(thread('contested', `user-${i}`)),
          ),
        );
        expect(results.filter((r) => r.outcome === 'created')).toHaveLength(1);
        const winner = ownerOf(results.find((r) => r.outcome === 'created'));
        expect(new Set(results.map(ownerOf))).toEqual(new Set([winner]));
        await expect(store.getThread('contested')).resolves.toMatchObject({ ownerId: winner });
        await expect(store.threadsOfUser(winner ?? '')).resolves.toEqual(['contested']);
      });

      it('lets exactly one of 100 parallel claims win across several store instances', async () => {
        const all = await stores(5);
        const results = await Promise.all(
          Array.from({ length: 100 }, (_, i) =>
            (all[i % all.length] as RegistryStore).claimThread(thread('shared', `user-${i}`)),
          ),
        );
        expect(results.filter((r) => r.outcome === 'created')).toHaveLength(1);
        const owners = new Set(results.map(ownerOf));
        expect(owners.size).toBe(1);
        for (const peer of all) {
          await expect(peer.getThread('shared')).resolves.toMatchObject({
            ownerId: [...owners][0],
          });
        }
        const indexed = await Promise.all(
          Array.from({ length: 100 }, (_, i) => store.threadsOfUser(`user-${i}`)),
        );
        expect(indexed.flat()).toEqual(['shared']);
      });

      it('returns null for an unknown thread', async () => {
        await expect(store.getThread('nope')).resolves.toBeNull();
        await expect(store.threadsOfUser('nobody')).resolves.toEqual([]);
      });

      it('indexes every thread of a user', async () => {
        await store.claimThread(thread('a-1', 'alice'));
        await store.claimThread(thread('a-2', 'alice'));
        await store.claimThread(thread('b-1', 'bob'));
        expect(sorted(await store.threadsOfUser('alice'))).toEqual(['a-1', 'a-2']);
        expect(await store.threadsOfUser('bob')).toEqual(['b-1']);
      });

      it('deletes a thread with its runs, owner index and delivered cursors', async () => {
        await store.claimThread(thread('t-1', 'alice'));
        await store.claimThread(thread('t-2', 'alice'));
        await store.putRun('r-1', 't-1');
        await store.putRun('r-2', 't-1');
        await store.putRun('r-3', 't-2');
        await store.recordDelivered('t-1', 'alice', 4, 'e1');

        await expect(store.deleteThread('t-1')).resolves.toBe(true);
        await expect(store.getThread('t-1')).resolves.toBeNull();
        await expect(store.threadsOfUser('alice')).resolves.toEqual(['t-2']);
        await expect(store.getRunThread('r-1')).resolves.toBeNull();
        await expect(store.getRunThread('r-2')).resolves.toBeNull();
        await expect(store.runsOfThread('t-1')).resolves.toEqual([]);
        await expect(store.deliveredCursors('t-1', 'e1')).resolves.toEqual({});
        await expect(store.getRunThread('r-3')).resolves.toBe('t-2');
        await expect(store.deleteThread('t-1')).resolves.toBe(false);
      });

      it('lets another user claim a thread after it was deleted', async () => {
        await store.claimThread(thread('t-1', 'alice'));
        await store.deleteThread('t-1');
        const result = await store.claimThread(thread('t-1', 'bob', CREATED_AT + 1));
        expect(result).toEqual({
          outcome: 'created',
          record: thread('t-1', 'bob', CREATED_AT + 1),
        });
        await expect(store.getThread('t-1')).resolves.toEqual(thread('t-1', 'bob', CREATED_AT + 1));
        await expect(store.threadsOfUser('alice')).resolves.toEqual([]);
      });

      it('lists no threads in an empty store', async () => {
        await expect(store.listThreads(null, 10)).resolves.toEqual({ items: [], nextCursor: null });
      });

      it('lists every thread exactly once across pages', async () => {
        const records = Array.from({ length: 150 }, (_, i) => thread(`t-${i}`, `user-${i % 7}`));
        await Promise.all(records.map((r) => store.claimThread(r)));
        // Page sizes are the store's business (HSCAN returns a small hash whole); coverage is not.
        const { items } = await collectPages((c, l) => store.listThreads(c, l), 25);
        expect(items).toHaveLength(150);
        const byId = new Map(items.map((r) => [r.threadId, r]));
        expect(byId.size).toBe(150);
        for (const record of records) expect(byId.get(record.threadId)).toEqual(record);
      });

      it('refuses a cursor it did not issue', async () => {
        await expect(store.listThreads('not a cursor', 10)).rejects.toBeInstanceOf(BadRequestError);
        await expect(store.listConnections('-1', 10)).rejects.toBeInstanceOf(BadRequestError);
      });
    });

    describe('runs', () => {
      beforeEach(async () => {
        await store.claimThread(thread('t-1', 'alice'));
        await store.claimThread(thread('t-2', 'alice'));
      });

      it('maps a run to its thread', async () => {
        await expect(store.putRun('r-1', 't-1')).resolves.toEqual(mapped('t-1'));
        await expect(store.getRunThread('r-1')).resolves.toBe('t-1');
        await expect(store.runsOfThread('t-1')).resolves.toEqual(['r-1']);
        await expect(store.getRunThread('r-unknown')).resolves.toBeNull();
        await expect(store.runsOfThread('t-2')).resolves.toEqual([]);
      });

      it('keeps the first mapping of a run and reports it', async () => {
        await store.putRun('r-1', 't-1');
        await expect(store.putRun('r-1', 't-1')).resolves.toEqual(mapped('t-1'));
        await expect(store.putRun('r-1', 't-2')).resolves.toEqual(mapped('t-1'));
        await expect(store.getRunThread('r-1')).resolves.toBe('t-1');
        await expect(store.runsOfThread('t-1')).resolves.toEqual(['r-1']);
        await expect(store.runsOfThread('t-2')).resolves.toEqual([]);
      });

      it('maps a run once when many callers race to map it to different threads', async () => {
        const threads = Array.from({ length: 10 }, (_, i) => `race-${i}`);
        const all = await stores(3);
        const results = await Promise.all(
          threads.map((t, i) => (all[i % all.length] as RegistryStore).putRun('r-race', t)),
        );
        const winners = results.map((r) => (r.outcome === 'mapped' ? r.threadId : r.outcome));
        const winner = winners[0];
        expect(new Set(winners)).toEqual(new Set([winner]));
        await expect(store.getRunThread('r-race')).resolves.toBe(winner);
        const indexed = await Promise.all(threads.map((t) => store.runsOfThread(t)));
        expect(indexed.flat()).toEqual(['r-race']);
      });

      it('lists every run of a thread', async () => {
        await Promise.all(['r-1', 'r-2', 'r-3'].map((r) => store.putRun(r, 't-1')));
        expect(sorted(await store.runsOfThread('t-1'))).toEqual(['r-1', 'r-2', 'r-3']);
      });

      it('deletes a run', async () => {
        await store.putRun('r-1', 't-1');
        await store.putRun('r-2', 't-1');
        await expect(store.deleteRun('r-1')).resolves.toBe(true);
        await expect(store.getRunThread('r-1')).resolves.toBeNull();
        await expect(store.runsOfThread('t-1')).resolves.toEqual(['r-2']);
        await expect(store.deleteRun('r-1')).resolves.toBe(false);
        await expect(store.putRun('r-1', 't-2')).resolves.toEqual(mapped('t-2'));
      });
    });

    describe('one id, one meaning', () => {
      it('refuses a thread claim on a registered run id, and a run on a registered thread id', async () => {
        await store.claimThread(thread('t-1', 'alice'));
        await store.putRun('run-1001', 't-1');
        await expect(store.claimThread(thread('run-1001', 'mallory'))).resolves.toEqual({
          outcome: 'run_id',
          threadId: 't-1',
        });
        await expect(
          store.claimThread(thread('run-1001', 'mallory'), LEASE),
        ).resolves.toMatchObject({ outcome: 'run_id' });
        await expect(store.getThread('run-1001')).resolves.toBeNull();
        await expect(store.threadsOfUser('mallory')).resolves.toEqual([]);

        await store.claimThread(thread('run-2002', 'mallory'));
        await expect(store.putRun('run-2002', 't-1')).resolves.toEqual({ outcome: 'thread_id' });
        await expect(store.getRunThread('run-2002')).resolves.toBeNull();
        await expect(store.runsOfThread('t-1')).resolves.toEqual(['run-1001']);
      });

      it('decides between a racing thread claim and run mapping of one id exactly once', async () => {
        await store.claimThread(thread('t-1', 'alice'));
        const all = await stores(3);
        for (let round = 0; round < 20; round += 1) {
          const id = `contested-${round}`;
          const [claim, run] = await Promise.all([
            (all[round % all.length] as RegistryStore).claimThread(thread(id, 'mallory')),
            (all[(round + 1) % all.length] as RegistryStore).putRun(id, 't-1'),
          ]);
          const threadWon = claim.outcome === 'created';
          const runWon = run.outcome === 'mapped';
          expect({ id, threadWon, runWon }).toEqual({ id, threadWon, runWon: !threadWon });
          await expect(store.lookupId(id)).resolves.toEqual(
            threadWon ? { kind: 'thread' } : { kind: 'run', threadId: 't-1' },
          );
        }
      });

      it('looks an id up as a run, a thread or nothing', async () => {
        await store.claimThread(thread('t-1', 'alice'));
        await store.putRun('r-1', 't-1');
        await expect(store.lookupId('t-1')).resolves.toEqual({ kind: 'thread' });
        await expect(store.lookupId('r-1')).resolves.toEqual({ kind: 'run', threadId: 't-1' });
        await expect(store.lookupId('nothing')).resolves.toBeNull();
      });

      it('starts a thread registered again clean: no runs or cursors of the one before', async () => {
        await store.claimThread(thread('t-1', 'alice'));
        await store.putRun('r-old', 't-1');
        await store.recordDelivered('t-1', 'alice', 7, 'e1');
        await store.deleteThread('t-1');
        await store.claimThread(thread('t-1', 'bob'));
        await expect(store.runsOfThread('t-1')).resolves.toEqual([]);
        await expect(store.getRunThread('r-old')).resolves.toBeNull();
        await expect(store.deliveredCursors('t-1', 'e1')).resolves.toEqual({});
      });
    });

    describe('leased (auto-registered) threads', () => {
      it('marks a leased thread and renews it for its owner only', async () => {
        const created = await store.claimThread(thread('t-1', 'alice'), LEASE);
        expect(created).toEqual({
          outcome: 'created',
          record: { ...thread('t-1', 'alice'), autoRegistered: true },
        });
        await expect(store.getThread('t-1')).resolves.toMatchObject({ autoRegistered: true });
        await expect(store.claimThread(thread('t-1', 'mallory'), LEASE)).resolves.toMatchObject({
          outcome: 'existing',
          record: { ownerId: 'alice' },
        });
      });

      it('expires a leased thread left unused, with its indexes, runs and cursors', async () => {
        await store.claimThread(thread('t-short', 'alice'), { ttlSeconds: 1, maxPerUser: 10 });
        await store.claimThread(thread('t-kept', 'alice'));
        await store.putRun('r-short', 't-short');
        await store.recordDelivered('t-short', 'alice', 3, 'e1');
        await harness.passTime(1_100);
        await waitUntil(
          async () => (await store.getThread('t-short')) === null,
          'the thread to expire',
          {
            timeoutMs: 5_000,
            intervalMs: 25,
            pause: harness.passTime,
          },
        );
        await store.sweepExpiredThreads();
        await expect(store.threadsOfUser('alice')).resolves.toEqual(['t-kept']);
        await expect(store.getRunThread('r-short')).resolves.toBeNull();
        await expect(store.runsOfThread('t-short')).resolves.toEqual([]);
        await expect(store.deliveredCursors('t-short', 'e1')).resolves.toEqual({});
        const { items } = await collectPages((c, l) => store.listThreads(c, l), 10);
        expect(items.map((t) => t.threadId)).toEqual(['t-kept']);
        // The id is free again, and its new owner starts clean.
        await expect(store.claimThread(thread('t-short', 'bob'), LEASE)).resolves.toMatchObject({
          outcome: 'created',
          record: { ownerId: 'bob' },
        });
      });

      it('keeps a touched lease alive past its first term', async () => {
        await store.claimThread(thread('t-1', 'alice'), { ttlSeconds: 2, maxPerUser: 10 });
        await harness.passTime(1_200);
        await store.touchThread('t-1', 2);
        await harness.passTime(1_200);
        await expect(store.getThread('t-1')).resolves.toMatchObject({ ownerId: 'alice' });
        await store.sweepExpiredThreads();
        await expect(store.threadsOfUser('alice')).resolves.toEqual(['t-1']);
      });

      it('makes a leased thread permanent when its owner registers it', async () => {
        await store.claimThread(thread('t-1', 'alice'), { ttlSeconds: 1, maxPerUser: 10 });
        await expect(store.claimThread(thread('t-1', 'alice'))).resolves.toEqual({
          outcome: 'existing',
          record: thread('t-1', 'alice'),
        });
        await harness.passTime(1_200);
        await store.sweepExpiredThreads();
        await expect(store.getThread('t-1')).resolves.toEqual(thread('t-1', 'alice'));
        // Touching a permanent thread gives it no expiry.
        await store.touchThread('t-1', 1);
        await harness.passTime(1_200);
        await expect(store.getThread('t-1')).resolves.toEqual(thread('t-1', 'alice'));
      });

      it('caps the live leased threads of a user, not their permanent ones or other users', async () => {
        const cap = { ttlSeconds: 60, maxPerUser: 3 };
        for (const id of ['a-1', 'a-2', 'a-3']) {
          await expect(store.claimThread(thread(id, 'alice'), cap)).resolves.toMatchObject({
            outcome: 'created',
          });
        }
        await expect(store.claimThread(thread('a-4', 'alice'), cap)).resolves.toEqual({
          outcome: 'limit',
          limit: 3,
        });
        await expect(store.getThread('a-4')).resolves.toBeNull();
        // Renewing one already held is not a new one.
        await expect(store.claimThread(thread('a-2', 'alice'), cap)).resolves.toMatchObject({
          outcome: 'existing',
        });
        await expect(store.claimThread(thread('p-1', 'alice'))).resolves.toMatchObject({
          outcome: 'created',
        });
        await expect(store.claimThread(thread('b-1', 'bob'), cap)).resolves.toMatchObject({
          outcome: 'created',
        });
        // A thread freed (deleted) frees its place.
        await store.deleteThread('a-1');
        await expect(store.claimThread(thread('a-4', 'alice'), cap)).resolves.toMatchObject({
          outcome: 'created',
        });
      });

      it('holds the cap under 50 parallel leased claims by one user', async () => {
        const all = await stores(3);
        const cap = { ttlSeconds: 60, maxPerUser: 5 };
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            (all[i % all.length] as RegistryStore).claimThread(thread(`p-${i}`, 'alice'), cap),
          ),
        );
        expect(results.filter((r) => r.outcome === 'created')).toHaveLength(5);
        expect(results.filter((r) => r.outcome === 'limit')).toHaveLength(45);
        await expect(store.threadsOfUser('alice')).resolves.toHaveLength(5);
      });

      it('frees the places of leases that ran out', async () => {
        const cap = { ttlSeconds: 1, maxPerUser: 2 };
        await store.claimThread(thread('a-1', 'alice'), cap);
        await store.claimThread(thread('a-2', 'alice'), cap);
        await harness.passTime(1_200);
        await waitUntil(
          async () => (await store.getThread('a-1')) === null,
          'the thread to expire',
          {
            timeoutMs: 5_000,
            intervalMs: 25,
            pause: harness.passTime,
          },
        );
        await expect(store.claimThread(thread('a-3', 'alice'), cap)).resolves.toMatchObject({
          outcome: 'created',
        });
      });
    });

    describe('connections', () => {
      it('stores a connection and reads it back', async () => {
        const record = connection('c-1', { threads: ['t-1', 't-2'] });
        await store.putConnection(record);
        expect(normalized(await store.getConnection('c-1'))).toEqual(record);
        await expect(store.connectionsOfUser('user-1')).resolves.toEqual(['c-1']);
        await expect(store.connectionsOfInstance('instance-1')).resolves.toEqual(['c-1']);
        await expect(store.connectionsOfThread('t-1')).resolves.toEqual(['c-1']);
        await expect(store.countConnectionsOfThread('t-2')).resolves.toBe(1);
      });

      it('refuses a connection over the per-user cap, across store instances', async () => {
        const all = await stores(3);
        const results = await Promise.all(
          Array.from({ length: 12 }, (_, i) =>
            (all[i % all.length] as RegistryStore).putConnection(
              connection(`c-${i}`, { userId: 'capped' }),
              { maxPerUser: 4 },
            ),
          ),
        );
        expect(results.filter(Boolean)).toHaveLength(4);
        await expect(store.connectionsOfUser('capped')).resolves.toHaveLength(4);
        // Storing an admitted connection again is not a new one; a freed place can be taken.
        const admitted = results.findIndex(Boolean);
        await expect(
          store.putConnection(connection(`c-${admitted}`, { userId: 'capped' }), { maxPerUser: 4 }),
        ).resolves.toBe(true);
        await store.deleteConnection(`c-${admitted}`);
        await expect(
          store.putConnection(connection('c-new', { userId: 'capped' }), { maxPerUser: 4 }),
        ).resolves.toBe(true);
        await expect(store.putConnection(connection('c-free', { userId: 'other' }))).resolves.toBe(
          true,
        );
      });

      it('returns null and empty indexes for unknown ids', async () => {
        await expect(store.getConnection('nope')).resolves.toBeNull();
        await expect(store.connectionsOfThread('nope')).resolves.toEqual([]);
        await expect(store.countConnectionsOfThread('nope')).resolves.toBe(0);
        await expect(store.connectionsOfUser('nope')).resolves.toEqual([]);
        await expect(store.connectionsOfInstance('nope')).resolves.toEqual([]);
      });

      it('updates lastSeenAt on touch and never creates a connection by touching it', async () => {
        await store.putConnection(connection('c-1'));
        await store.touchConnection('c-1', 5_000);
        await expect(store.getConnection('c-1')).resolves.toMatchObject({
          connectedAt: 1_000,
          lastSeenAt: 5_000,
        });
        await store.touchConnection('ghost', 5_000);
        await expect(store.getConnection('ghost')).resolves.toBeNull();
        await store.touchConnection('c-1', 6_000, 'websocket-upgraded');
        await expect(store.getConnection('c-1')).resolves.toMatchObject({
          lastSeenAt: 6_000,
          transport: 'websocket-upgraded',
        });
        await store.touchConnection('ghost', 6_000, 'websocket');
        await expect(store.getConnection('ghost')).resolves.toBeNull();
      });

      it('adds and removes joined threads in both directions', async () => {
        await store.putConnection(connection('c-1'));
        await store.putConnection(connection('c-2'));
        await store.addConnectionThread('c-1', 't-1');
        await store.addConnectionThread('c-1', 't-1');
        await store.addConnectionThread('c-2', 't-1');
        await store.addConnectionThread('c-1', 't-2');

        expect(sorted(await store.connectionsOfThread('t-1'))).toEqual(['c-1', 'c-2']);
        await expect(store.countConnectionsOfThread('t-1')).resolves.toBe(2);
        expect(normalized(await store.getConnection('c-1'))?.threads).toEqual(['t-1', 't-2']);

        await store.removeConnectionThread('c-1', 't-1');
        await expect(store.connectionsOfThread('t-1')).resolves.toEqual(['c-2']);
        await expect(store.countConnectionsOfThread('t-1')).resolves.toBe(1);
        await expect(store.getConnection('c-1')).resolves.toMatchObject({ threads: ['t-2'] });

        await store.removeConnectionThread('c-1', 't-1');
        await expect(store.countConnectionsOfThread('t-1')).resolves.toBe(1);
      });

      it('does not join a thread for a connection that does not exist', async () => {
        await store.addConnectionThread('ghost', 't-1');
        await expect(store.connectionsOfThread('t-1')).resolves.toEqual([]);
        await expect(store.getConnection('ghost')).resolves.toBeNull();
      });

      it('leaves no ghost in a thread index when joins race with deletes', async () => {
        const all = await stores(3);
        const ids = Array.from({ length: 60 }, (_, i) => `c-${i}`);
        await Promise.all(ids.map((id) => store.putConnection(connection(id))));
        await Promise.all(
          ids.flatMap((id, i) => [
            (all[i % all.length] as RegistryStore).addConnectionThread(id, 't-race'),
            (all[(i + 1) % all.length] as RegistryStore).deleteConnection(id),
          ]),
        );
        await expect(store.countConnectionsOfThread('t-race')).resolves.toBe(0);
        await expect(store.connectionsOfUser('user-1')).resolves.toEqual([]);
      });

      it('indexes many connections of one user across instances', async () => {
        await store.putConnection(connection('tab-1', { instanceId: 'i-a' }));
        await store.putConnection(connection('tab-2', { instanceId: 'i-b' }));
        await store.putConnection(connection('phone', { instanceId: 'i-b', transport: 'polling' }));
        await store.putConnection(connection('other', { userId: 'user-2', instanceId: 'i-a' }));
        expect(sorted(await store.connectionsOfUser('user-1'))).toEqual([
          'phone',
          'tab-1',
          'tab-2',
        ]);
        expect(sorted(await store.connectionsOfInstance('i-b'))).toEqual(['phone', 'tab-2']);
        expect(sorted(await store.connectionsOfInstance('i-a'))).toEqual(['other', 'tab-1']);
      });

      it('leaves every index empty after deleteConnection', async () => {
        await store.putConnection(connection('c-1', { threads: ['t-1'] }));
        await store.addConnectionThread('c-1', 't-2');
        await store.putConnection(connection('keep', { threads: ['t-1'] }));

        await expect(store.deleteConnection('c-1')).resolves.toBe(true);
        await expect(store.getConnection('c-1')).resolves.toBeNull();
        await expect(store.countConnectionsOfThread('t-1')).resolves.toBe(1);
        await expect(store.countConnectionsOfThread('t-2')).resolves.toBe(0);
        await expect(store.connectionsOfThread('t-2')).resolves.toHaveLength(0);
        await expect(store.connectionsOfUser('user-1')).resolves.toEqual(['keep']);
        await expect(store.connectionsOfInstance('instance-1')).resolves.toEqual(['keep']);
        const listed = await collectPages((c, l) => store.listConnections(c, l), 10);
        expect(listed.items.map((r) => r.connectionId)).toEqual(['keep']);

        await expect(store.deleteConnection('keep')).resolves.toBe(true);
        await expect(store.countConnectionsOfThread('t-1')).resolves.toBe(0);
        await expect(store.connectionsOfUser('user-1')).resolves.toHaveLength(0);
        await expect(store.connectionsOfInstance('instance-1')).resolves.toHaveLength(0);
        await expect(store.listConnections(null, 10)).resolves.toEqual({
          items: [],
          nextCursor: null,
        });
        await expect(store.deleteConnection('keep')).resolves.toBe(false);
      });

      it('moves the indexes when a connection record is replaced', async () => {
        await store.putConnection(connection('c-1', { threads: ['t-1'] }));
        await store.putConnection(
          connection('c-1', { userId: 'user-2', instanceId: 'instance-2', threads: ['t-2'] }),
        );
        await expect(store.connectionsOfUser('user-1')).resolves.toEqual([]);
        await expect(store.connectionsOfInstance('instance-1')).resolves.toEqual([]);
        await expect(store.connectionsOfThread('t-1')).resolves.toEqual([]);
        await expect(store.connectionsOfUser('user-2')).resolves.toEqual(['c-1']);
        await expect(store.connectionsOfThread('t-2')).resolves.toEqual(['c-1']);
        const listed = await collectPages((c, l) => store.listConnections(c, l), 10);
        expect(listed.items.map(normalized)).toEqual([
          connection('c-1', { userId: 'user-2', instanceId: 'instance-2', threads: ['t-2'] }),
        ]);
      });

      it('lists 250 connections exactly once across pages of 50', async () => {
        const records = Array.from({ length: 250 }, (_, i) =>
          connection(`c-${i}`, {
            userId: `user-${i % 9}`,
            instanceId: `instance-${i % 3}`,
            threads: i % 2 === 0 ? [`t-${i % 5}`] : [],
            connectedAt: i,
            lastSeenAt: i,
          }),
        );
        await Promise.all(records.map((r) => store.putConnection(r)));
        const { items } = await collectPages((c, l) => store.listConnections(c, l), 50);
        expect(items).toHaveLength(250);
        const byId = new Map(items.map((r) => [r.connectionId, normalized(r)]));
        expect(byId.size).toBe(250);
        for (const record of records) expect(byId.get(record.connectionId)).toEqual(record);
      });

      it('still lists every surviving connection when others are deleted mid-listing', async () => {
        const ids = Array.from({ length: 200 }, (_, i) => `c-${i}`);
        await Promise.all(ids.map((id) => store.putConnection(connection(id))));
        const first = await store.listConnections(null, 20);
        const seen = new Set(first.items.map((r) => r.connectionId));
        const deleted = ids.filter((id) => !seen.has(id)).slice(0, 60);
        await Promise.all(deleted.map((id) => store.deleteConnection(id)));
        const rest =
          first.nextCursor === null
            ? []
            : (
                await collectPages(
                  (c, l) => store.listConnections(c ?? (first.nextCursor as string), l),
                  20,
                )
              ).items;
        for (const record of rest) seen.add(record.connectionId);
        const gone = new Set(deleted);
        for (const id of ids) if (!gone.has(id)) expect(seen).toContain(id);
        for (const record of rest) expect(gone.has(record.connectionId)).toBe(false);
      });
    });

    describe('instances', () => {
      it('reports no instance dead while heartbeats are fresh', async () => {
        await expect(store.deadInstances()).resolves.toEqual([]);
        await store.heartbeatInstance('instance-1', 60_000);
        await expect(store.deadInstances()).resolves.toEqual([]);
      });

      it('reports a lapsed instance dead, and removeInstance clears its connections', async () => {
        await store.heartbeatInstance('steady', 60_000);
        await store.heartbeatInstance('lapsing', 150);
        await store.putConnection(connection('c-1', { instanceId: 'lapsing', threads: ['t-1'] }));
        await store.putConnection(connection('c-2', { instanceId: 'lapsing', userId: 'user-2' }));
        await store.addConnectionThread('c-2', 't-1');
        await store.putConnection(connection('c-3', { instanceId: 'steady', threads: ['t-1'] }));

        await waitUntil(
          async () => (await store.deadInstances()).includes('lapsing'),
          'the instance to lapse',
          {
            timeoutMs: 5_000,
            intervalMs: 25,
            pause: harness.passTime,
          },
        );
        await expect(store.deadInstances()).resolves.toEqual(['lapsing']);

        await expect(store.removeInstance('lapsing')).resolves.toBe(2);
        await expect(store.deadInstances()).resolves.toEqual([]);
        await expect(store.connectionsOfInstance('lapsing')).resolves.toHaveLength(0);
        await expect(store.getConnection('c-1')).resolves.toBeNull();
        await expect(store.getConnection('c-2')).resolves.toBeNull();
        await expect(store.connectionsOfThread('t-1')).resolves.toEqual(['c-3']);
        await expect(store.connectionsOfUser('user-1')).resolves.toEqual(['c-3']);
        await expect(store.connectionsOfUser('user-2')).resolves.toHaveLength(0);
        const listed = await collectPages((c, l) => store.listConnections(c, l), 10);
        expect(listed.items.map((r) => r.connectionId)).toEqual(['c-3']);
      });

      it('revives a lapsed instance that heartbeats again', async () => {
        await store.heartbeatInstance('flaky', 150);
        await waitUntil(
          async () => (await store.deadInstances()).includes('flaky'),
          'the instance to lapse',
          {
            timeoutMs: 5_000,
            intervalMs: 25,
            pause: harness.passTime,
          },
        );
        await store.heartbeatInstance('flaky', 60_000);
        await expect(store.deadInstances()).resolves.toEqual([]);
      });

      it('removes an instance it never saw as zero connections', async () => {
        await expect(store.removeInstance('never-seen')).resolves.toBe(0);
        await expect(store.deadInstances()).resolves.toEqual([]);
      });
    });

    describe('delivered cursors', () => {
      it('only ever raises the cursor', async () => {
        await expect(store.deliveredCursors('t-1', 'e1')).resolves.toEqual({});
        await expect(store.recordDelivered('t-1', 'alice', 5, 'e1')).resolves.toBe(5);
        await expect(store.recordDelivered('t-1', 'alice', 3, 'e1')).resolves.toBe(5);
        await expect(store.recordDelivered('t-1', 'alice', 5, 'e1')).resolves.toBe(5);
        await expect(store.recordDelivered('t-1', 'alice', 7, 'e1')).resolves.toBe(7);
        await expect(store.recordDelivered('t-1', 'bob', 2, 'e1')).resolves.toBe(2);
        await expect(store.recordDelivered('t-2', 'alice', 1, 'e1')).resolves.toBe(1);
        await expect(store.deliveredCursors('t-1', 'e1')).resolves.toEqual({ alice: 7, bob: 2 });
      });

      it('counts a cursor in its epoch: a new epoch replaces it, and reports only its own', async () => {
        await store.recordDelivered('t-1', 'alice', 500, 'old-epoch');
        await store.recordDelivered('t-1', 'bob', 40, 'old-epoch');
        // The log expired and started over: seq 3 of the new log is not behind 500.
        await expect(store.recordDelivered('t-1', 'alice', 3, 'new-epoch')).resolves.toBe(3);
        await expect(store.deliveredCursors('t-1', 'new-epoch')).resolves.toEqual({ alice: 3 });
        await expect(store.deliveredCursors('t-1', 'old-epoch')).resolves.toEqual({ bob: 40 });
        await expect(store.recordDelivered('t-1', 'alice', 2, 'new-epoch')).resolves.toBe(3);
      });

      it('never lowers the cursor under concurrent acknowledgements', async () => {
        const all = await stores(4);
        const seqs = shuffled(Array.from({ length: 100 }, (_, i) => i + 1));
        const results = await Promise.all(
          seqs.map((seq, i) =>
            (all[i % all.length] as RegistryStore).recordDelivered('t-1', 'alice', seq, 'e1'),
          ),
        );
        results.forEach((after, i) => expect(after).toBeGreaterThanOrEqual(seqs[i] ?? 0));
        await expect(store.deliveredCursors('t-1', 'e1')).resolves.toEqual({ alice: 100 });
        await expect(store.recordDelivered('t-1', 'alice', 50, 'e1')).resolves.toBe(100);
      });

      it('keeps large sequence numbers exact', async () => {
        const big = 2 ** 53 - 1;
        await expect(store.recordDelivered('t-1', 'alice', big - 1, 'e1')).resolves.toBe(big - 1);
        await expect(store.recordDelivered('t-1', 'alice', big, 'e1')).resolves.toBe(big);
        await expect(store.deliveredCursors('t-1', 'e1')).resolves.toEqual({ alice: big });
      });
    });

    it('closes without error', async () => {
      await expect(store.close()).resolves.toBeUndefined();
    });
  });
}
