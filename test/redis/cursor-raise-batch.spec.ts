import { CursorRaiseBatch, type CursorRaise } from '../../src/redis/cursor-raise-batch.js';

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('CursorRaiseBatch', () => {
  it('writes the raises of one turn as one batch, one entry per (thread, user)', async () => {
    const batches: CursorRaise[][] = [];
    const batch = new CursorRaiseBatch((raises) => {
      batches.push(raises);
      for (const raise of raises) raise.settle(null, raise.seq);
    });
    const first = [
      batch.raise('t1', 'alice', 4, 'e1'),
      batch.raise('t1', 'alice', 7, 'e1'),
      batch.raise('t1', 'bob', 2, 'e1'),
      batch.raise('t2', 'alice', 1, 'e1'),
    ];
    expect(batches).toHaveLength(0);
    await expect(Promise.all(first)).resolves.toEqual([7, 7, 2, 1]);
    expect(batches.map((raises) => raises.map((r) => [r.threadId, r.userId, r.seq]))).toEqual([
      [
        ['t1', 'alice', 7],
        ['t1', 'bob', 2],
        ['t2', 'alice', 1],
      ],
    ]);
    await nextTurn();
    await expect(batch.raise('t1', 'alice', 9, 'e1')).resolves.toBe(9);
    expect(batches).toHaveLength(2);
  });

  it('rejects every waiter of a raise whose write failed, and only those', async () => {
    const batch = new CursorRaiseBatch((raises) => {
      for (const raise of raises) {
        if (raise.threadId === 'broken') raise.settle(new Error('store down'), 0);
        else raise.settle(null, raise.seq);
      }
    });
    const broken = [
      batch.raise('broken', 'alice', 1, 'e1'),
      batch.raise('broken', 'alice', 2, 'e1'),
    ];
    const fine = batch.raise('fine', 'alice', 3, 'e1');
    await expect(fine).resolves.toBe(3);
    for (const raise of broken) await expect(raise).rejects.toThrow('store down');
  });

  it('rejects the whole batch when the writer throws', async () => {
    const batch = new CursorRaiseBatch(() => {
      throw new Error('no pipeline');
    });
    await expect(batch.raise('t1', 'alice', 1, 'e1')).rejects.toThrow('no pipeline');
  });

  it('writes what is pending at once on flush()', async () => {
    let written = 0;
    const batch = new CursorRaiseBatch((raises) => {
      written += raises.length;
      for (const raise of raises) raise.settle(null, raise.seq);
    });
    const raise = batch.raise('t1', 'alice', 1, 'e1');
    batch.flush();
    expect(written).toBe(1);
    await expect(raise).resolves.toBe(1);
    batch.flush();
    expect(written).toBe(1);
  });
});
