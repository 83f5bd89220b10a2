import { randomUUID } from 'node:crypto';
import {
  type MessageLog,
  type NewEvent,
  type RetentionOptions,
} from '../../src/delivery/message-log.interface.js';
import { checkCursor } from '../../src/delivery/message-log.rules.js';
import type { JsonValue } from '../../src/protocol.js';
import { waitUntil } from '../support/wait-until.js';

export interface MessageLogHarness {
  log: MessageLog;
  /**
   * Moves the log's clock forward. Logs on real time (Redis) make this a no-op; the
   * tests then poll until the store reports what they expect, up to a deadline.
   */
  advance: (ms: number) => void;
}

export type MessageLogFactory = (retention: RetentionOptions) => Promise<MessageLogHarness>;

const LONG_RETENTION: RetentionOptions = { ttlSeconds: 600, maxPerThread: 10_000 };

let counter = 0;
function newThreadId(): string {
  counter += 1;
  return `thread-${counter}-${randomUUID().slice(0, 8)}`;
}

function newEvent(
  threadId: string,
  payload: JsonValue = { n: 1 },
  extra: Partial<NewEvent> = {},
): NewEvent {
  return { id: randomUUID(), threadId, type: 'agent_thinking', payload, ts: Date.now(), ...extra };
}

/**
 * The behaviour every MessageLog must have (DESIGN guarantees 2-5): dense seqs per thread,
 * epochs that change whenever the log is lost, idempotent appends, retention by length and
 * TTL. Run against the memory and the Redis log alike.
 */
export function describeMessageLog(name: string, factory: MessageLogFactory): void {
  describe(`MessageLog contract: ${name}`, () => {
    const open: MessageLog[] = [];

    async function setup(retention: Partial<RetentionOptions> = {}): Promise<MessageLogHarness> {
      const harness = await factory({ ...LONG_RETENTION, ...retention });
      open.push(harness.log);
      return harness;
    }

    async function appendMany(log: MessageLog, threadId: string, count: number) {
      const events = [];
      for (let i = 1; i <= count; i += 1) {
        events.push((await log.append(newEvent(threadId, { i }))).event);
      }
      return events;
    }

    afterEach(async () => {
      await Promise.all(open.splice(0).map((log) => log.close()));
    });

    it('starts a new thread at seq 1 with a fresh epoch', async () => {
      const { log } = await setup();
      const a = newThreadId();
      const b = newThreadId();
      const first = await log.append(newEvent(a));
      const other = await log.append(newEvent(b));
      expect(first.appended).toBe(true);
      expect(first.event.seq).toBe(1);
      expect(first.event.epoch).toMatch(/^[0-9a-f]{16}$/);
      expect(other.event.epoch).not.toBe(first.event.epoch);
      expect(await log.state(a)).toEqual({ epoch: first.event.epoch, headSeq: 1, firstSeq: 1 });
    });

    it('assigns dense seqs 1..N and keeps the epoch', async () => {
      const { log } = await setup();
      const threadId = newThreadId();
      const events = await appendMany(log, threadId, 25);
      expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
      expect(new Set(events.map((e) => e.epoch)).size).toBe(1);
      expect(await log.state(threadId)).toEqual({
        epoch: events[0]?.epoch,
        headSeq: 25,
        firstSeq: 1,
      });
    });

    it('reads after a seq, oldest first, at most limit', async () => {
      const { log } = await setup();
      const threadId = newThreadId();
      const appended = await appendMany(log, threadId, 10);
      const epoch = appended[0]?.epoch;

      const all = await log.read(threadId, 0, 100);
      expect(all).toMatchObject({ epoch, headSeq: 10, firstSeq: 1 });
      expect(all.events).toStrictEqual(appended);

      const middle = await log.read(threadId, 3, 4);
      expect(middle.events.map((e) => e.seq)).toEqual([4, 5, 6, 7]);
      expect(middle.headSeq).toBe(10);

      expect((await log.read(threadId, 9, 100)).events.map((e) => e.seq)).toEqual([10]);
      expect((await log.read(threadId, 10, 100)).events).toEqual([]);
      expect((await log.read(threadId, 50, 100)).events).toEqual([]);
      const stateOnly = await log.read(threadId, 0, 0);
      expect(stateOnly).toEqual({ epoch, headSeq: 10, firstSeq: 1, events: [] });
    });

    it('cuts a read at maxBytes of events, keeping the first one whatever its size', async () => {
      const { log } = await setup();
      const threadId = newThreadId();
      for (let i = 1; i <= 40; i++) {
        await log.append(newEvent(threadId, { i, data: 'x'.repeat(40_000) }));
      }
      const whole = await log.read(threadId, 0, 40);
      expect(whole.events.map((e) => e.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
      // About 40 KB each: 5 fit in 210 KB, across whatever chunks the log reads in.
      const capped = await log.read(threadId, 10, 40, 210_000);
      expect(capped.events.map((e) => e.seq)).toEqual([11, 12, 13, 14, 15]);
      expect(capped.headSeq).toBe(40);
      const one = await log.read(threadId, 0, 40, 1);
      expect(one.events.map((e) => e.seq)).toEqual([1]);
      // A bound larger than the page reads the page, past any chunking of the store.
      const all = await log.read(threadId, 0, 40, 10_000_000);
      expect(all.events).toEqual(whole.events);
    });

    it('counts the bound in UTF-8 bytes, not characters', async () => {
      const { log } = await setup();
      const threadId = newThreadId();
      // 10,000 characters, 30,000 bytes each.
      for (let i = 1; i <= 10; i++)
        await log.append(newEvent(threadId, { text: '漢'.repeat(10_000) }));
      const page = await log.read(threadId, 0, 10, 100_000);
      expect(page.events.map((e) => e.seq)).toEqual([1, 2, 3]);
      expect(page.bytes).toBeGreaterThan(90_000);
      expect(page.bytes).toBeLessThanOrEqual(100_000);
    });

    it('reads an unknown thread as empty, without creating it', async () => {
      const { log } = await setup();
      const threadId = newThreadId();
      expect(await log.read(threadId, 0, 10)).toEqual({
        epoch: '',
        headSeq: 0,
        firstSeq: 1,
        events: [],
      });
      expect(await log.state(threadId)).toEqual({ epoch: '', headSeq: 0, firstSeq: 1 });
    });

    it('rejects a read window that is not a non-negative integer', async () => {
      const { log } = await setup();
      await expect(log.read(newThreadId(), -1, 10)).rejects.toThrow(RangeError);
      await expect(log.read(newThreadId(), Number.NaN, 10)).rejects.toThrow(RangeError);
      await expect(log.read(newThreadId(), 0, 1.5)).rejects.toThrow(RangeError);
    });

    it('round-trips every event field', async () => {
      const { log } = await setup();
      const threadId = newThreadId();
      const payloads: JsonValue[] = [
        {
          text: 'héllo wörld ✓ 你好 🤖🧵',
          nested: { list: [1, 2.5, -3e-7, true, false, null, 'x'], deep: { a: { b: { c: [] } } } },
          empty: {},
          quotes: 'say "hi"\n\ttab \\ back',
          lone: '\ud800 half a surrogate',
        },
        null,
        0,
        'plain string',
        [{ a: 1 }, [2, [3]]],
      ];
      const sent = [];
      for (const [i, payload] of payloads.entries()) {
        const input = newEvent(threadId, payload, {
          type: i % 2 === 0 ? 'tool_completed' : 'custom.type:v1',
          ts: 1_756_919_162_904 + i,
          ...(i % 2 === 0 ? { runId: `${threadId}_run_1756919162904_9adf1f0${i}` } : {}),
        });
        const { event } = await log.append(input);
        expect(event).toStrictEqual({
          ...input,
          seq: i + 1,
          epoch: event.epoch,
        });
        sent.push(event);
      }
      const { events } = await log.read(threadId, 0, 100);
      expect(events).toStrictEqual(sent);
      expect(events[1]).not.toHaveProperty('runId');
      expect(events[0]?.runId).toBe(`${threadId}_run_1756919162904_9adf1f00`);
    });

    it('answers a repeated idempotency key with the first event and stores nothing', async () => {
      const { log } = await setup();
      const threadId = newThreadId();
      const first = await log.append(newEvent(threadId, { v: 'first' }), { idempotencyKey: 'k1' });
      const again = await log.append(newEvent(threadId, { v: 'second' }), { idempotencyKey: 'k1' });
      expect(first.appended).toBe(true);
      expect(again.appended).toBe(false);
      expect(again.event).toStrictEqual(first.event);
      expect((await log.state(threadId)).headSeq).toBe(1);
      expect((await log.read(threadId, 0, 10)).events).toStrictEqual([first.event]);

      const other = await log.append(newEvent(threadId, { v: 'third' }), { idempotencyKey: 'k2' });
      const plain = await log.append(newEvent(threadId));
      expect([other.appended, other.event.seq, plain.appended, plain.event.seq]).toEqual([
        true,
        2,
        true,
        3,
      ]);
      const late = await log.append(newEvent(threadId), { idempotencyKey: 'k1' });
      expect(late).toEqual({ event: first.event, appended: false });
      expect((await log.state(threadId)).headSeq).toBe(3);
    });

    it('keeps idempotency keys per thread', async () => {
      const { log } = await setup();
      const a = newThreadId();
      const b = newThreadId();
      await log.append(newEvent(a), { idempotencyKey: 'same' });
      const onB = await log.append(newEvent(b), { idempotencyKey: 'same' });
      expect(onB.appended).toBe(true);
      expect(onB.event.threadId).toBe(b);
    });

    it('trims the oldest entries beyond maxPerThread and reports it through checkCursor', async () => {
      const { log } = await setup({ maxPerThread: 5 });
      const threadId = newThreadId();
      const appended = await appendMany(log, threadId, 8);
      const epoch = appended[0]?.epoch ?? '';
      const state = await log.state(threadId);
      expect(state).toEqual({ epoch, headSeq: 8, firstSeq: 4 });

      const slice = await log.read(threadId, 0, 100);
      expect(slice.events.map((e) => e.seq)).toEqual([4, 5, 6, 7, 8]);
      expect(slice.events).toStrictEqual(appended.slice(3));
      expect((await log.read(threadId, 5, 100)).events.map((e) => e.seq)).toEqual([6, 7, 8]);

      expect(checkCursor(state, 2, epoch)).toEqual({ ok: false, reason: 'trimmed' });
      expect(checkCursor(state, 0, epoch)).toEqual({ ok: false, reason: 'trimmed' });
      expect(checkCursor(state, 3, epoch)).toEqual({ ok: true });
      expect(checkCursor(state, 8, epoch)).toEqual({ ok: true });
    });

    it('forgets the idempotency key of a trimmed event, and only then', async () => {
      const { log } = await setup({ maxPerThread: 3 });
      const threadId = newThreadId();
      const keyed = await log.append(newEvent(threadId), { idempotencyKey: 'old' });
      await appendMany(log, threadId, 2);
      expect(await log.append(newEvent(threadId), { idempotencyKey: 'old' })).toEqual({
        event: keyed.event,
        appended: false,
      });
      await appendMany(log, threadId, 1);
      const again = await log.append(newEvent(threadId), { idempotencyKey: 'old' });
      expect(again.appended).toBe(true);
      expect(again.event.seq).toBe(5);
    });

    it('expires the whole log after ttlSeconds: new epoch, seq 1, old cursors reset', async () => {
      const { log, advance } = await setup({ ttlSeconds: 1 });
      const threadId = newThreadId();
      await log.append(newEvent(threadId), { idempotencyKey: 'before' });
      const { event: last } = await log.append(newEvent(threadId));
      const oldEpoch = last.epoch;

      advance(1_000);
      // Redis expires keys on its own time, which tests must not guess.
      await waitUntil(async () => (await log.state(threadId)).epoch === '', 'the log to expire', {
        intervalMs: 25,
      });
      const expired = await log.state(threadId);
      expect(expired).toEqual({ epoch: '', headSeq: 0, firstSeq: 1 });
      expect(checkCursor(expired, 2, oldEpoch)).toEqual({ ok: false, reason: 'epoch_mismatch' });
      expect((await log.read(threadId, 0, 10)).events).toEqual([]);

      const next = await log.append(newEvent(threadId), { idempotencyKey: 'before' });
      expect(next.appended).toBe(true);
      expect(next.event.seq).toBe(1);
      expect(next.event.epoch).toMatch(/^[0-9a-f]{16}$/);
      expect(next.event.epoch).not.toBe(oldEpoch);
      const fresh = await log.read(threadId, 0, 10);
      expect(fresh.events).toStrictEqual([next.event]);
      expect(checkCursor(fresh, 2, oldEpoch)).toEqual({ ok: false, reason: 'epoch_mismatch' });
    });

    it('counts the TTL from the last append', async () => {
      const { log, advance } = await setup({ ttlSeconds: 2 });
      const threadId = newThreadId();
      const { event } = await log.append(newEvent(threadId));
      advance(1_500);
      await log.append(newEvent(threadId));
      advance(1_500);
      expect(await log.state(threadId)).toEqual({ epoch: event.epoch, headSeq: 2, firstSeq: 1 });
      advance(500);
      await waitUntil(async () => (await log.state(threadId)).epoch === '', 'the log to expire', {
        intervalMs: 25,
      });
    });

    it('says ahead_of_log for a cursor beyond the head', async () => {
      const { log } = await setup();
      const threadId = newThreadId();
      const appended = await appendMany(log, threadId, 3);
      const epoch = appended[0]?.epoch;
      const state = await log.state(threadId);
      expect(checkCursor(state, 4, epoch)).toEqual({ ok: false, reason: 'ahead_of_log' });
      expect(checkCursor(state, 3, epoch)).toEqual({ ok: true });
      expect(checkCursor(state, 0, undefined)).toEqual({ ok: true });
      const missing = await log.state(newThreadId());
      expect(checkCursor(missing, 1, undefined)).toEqual({ ok: false, reason: 'ahead_of_log' });
    });

    it('ensure() creates a stable epoch at head 0 that the first append keeps', async () => {
      const { log } = await setup();
      const threadId = newThreadId();
      const created = await log.ensure(threadId);
      expect(created.epoch).toMatch(/^[0-9a-f]{16}$/);
      expect(created).toEqual({ epoch: created.epoch, headSeq: 0, firstSeq: 1 });
      expect(await log.ensure(threadId)).toEqual(created);
      expect(await log.state(threadId)).toEqual(created);
      expect(checkCursor(created, 0, created.epoch)).toEqual({ ok: true });

      const { event } = await log.append(newEvent(threadId));
      expect(event).toMatchObject({ seq: 1, epoch: created.epoch });
      await log.append(newEvent(threadId));
      expect(await log.ensure(threadId)).toEqual({ epoch: created.epoch, headSeq: 2, firstSeq: 1 });
    });

    it('ensure() agrees with itself under concurrency', async () => {
      const { log } = await setup();
      const threadId = newThreadId();
      const states = await Promise.all(Array.from({ length: 20 }, () => log.ensure(threadId)));
      expect(new Set(states.map((s) => s.epoch)).size).toBe(1);
    });

    it('lets an ensured but unused log expire', async () => {
      const { log, advance } = await setup({ ttlSeconds: 1 });
      const threadId = newThreadId();
      const { epoch } = await log.ensure(threadId);
      advance(1_000);
      await waitUntil(async () => (await log.state(threadId)).epoch === '', 'the log to expire', {
        intervalMs: 25,
      });
      expect((await log.append(newEvent(threadId))).event.epoch).not.toBe(epoch);
    });

    it('drop() deletes the log: the next append starts a new epoch at seq 1', async () => {
      const { log } = await setup();
      const threadId = newThreadId();
      await log.append(newEvent(threadId), { idempotencyKey: 'k' });
      const [last] = (await appendMany(log, threadId, 2)).slice(-1);
      await log.drop(threadId);
      expect(await log.state(threadId)).toEqual({ epoch: '', headSeq: 0, firstSeq: 1 });
      expect((await log.read(threadId, 0, 10)).events).toEqual([]);

      const next = await log.append(newEvent(threadId), { idempotencyKey: 'k' });
      expect(next.appended).toBe(true);
      expect(next.event.seq).toBe(1);
      expect(next.event.epoch).not.toBe(last?.epoch);
      await expect(log.drop(newThreadId())).resolves.toBeUndefined();
    });

    it('keeps threads isolated from each other', async () => {
      const { log } = await setup();
      const a = newThreadId();
      const b = newThreadId();
      for (let i = 0; i < 5; i += 1) {
        await log.append(newEvent(a, { thread: 'a', i }));
        await log.append(newEvent(b, { thread: 'b', i }));
      }
      await log.append(newEvent(a, { thread: 'a', i: 5 }));
      const sliceA = await log.read(a, 0, 100);
      const sliceB = await log.read(b, 0, 100);
      expect(sliceA.events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(sliceB.events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
      expect(
        sliceA.events.every(
          (e) => e.threadId === a && (e.payload as { thread: string }).thread === 'a',
        ),
      ).toBe(true);
      expect(sliceB.events.every((e) => e.threadId === b)).toBe(true);
      expect(sliceA.epoch).not.toBe(sliceB.epoch);

      await log.drop(a);
      expect(await log.state(b)).toEqual({ epoch: sliceB.epoch, headSeq: 5, firstSeq: 1 });
    });

    it('gives 500 concurrent appends exactly the seqs 1..500', async () => {
      const { log } = await setup();
      const threadId = newThreadId();
      const inputs = Array.from({ length: 500 }, (_, i) => newEvent(threadId, { i }));
      const results = await Promise.all(inputs.map((input) => log.append(input)));
      const seqs = results.map((r) => r.event.seq).sort((x, y) => x - y);
      expect(seqs).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
      expect(new Set(results.map((r) => r.event.epoch)).size).toBe(1);

      const slice = await log.read(threadId, 0, 1_000);
      expect(slice.headSeq).toBe(500);
      expect(slice.events.map((e) => e.seq)).toEqual(seqs);
      const seqById = new Map(results.map((r) => [r.event.id, r.event.seq]));
      expect(slice.events.every((e) => seqById.get(e.id) === e.seq)).toBe(true);
    });

    it('gives concurrent appends with one idempotency key a single event', async () => {
      const { log } = await setup();
      const threadId = newThreadId();
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          log.append(newEvent(threadId, { i }), { idempotencyKey: 'once' }),
        ),
      );
      expect(results.filter((r) => r.appended)).toHaveLength(1);
      expect(new Set(results.map((r) => r.event.id)).size).toBe(1);
      expect((await log.state(threadId)).headSeq).toBe(1);
    });
  });
}
