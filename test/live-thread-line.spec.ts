import type { ClusterBus, ClusterBusListeners } from '../src/cluster/cluster-bus.js';
import { LiveEvent } from '../src/cluster/live-event.js';
import { PreEncodedJson } from '../src/sockets/pre-encoded-json.js';
import { LiveThreadEvents } from '../src/delivery/live-thread-events.service.js';
import { MAX_WAITING, type ThreadLine } from '../src/delivery/thread-line.js';
import type { HistorySlice, LogState, MessageLog } from '../src/delivery/message-log.interface.js';
import type { ThreadEvent } from '../src/protocol.js';
import type { LocalSockets } from '../src/sockets/local-sockets.js';
import { resolveRelayOptions } from '../src/thread-relay.options-resolver.js';

/**
 * LiveThreadEvents driven directly: a bus whose messages the test delivers (or loses, as
 * pub/sub does while the subscriber is away), a log whose reads the test answers when it
 * chooses (a slow read), and a room that records what it was sent.
 */
const T = 'thread-x';

function event(seq: number, epoch = 'E1'): ThreadEvent {
  return {
    id: `id-${epoch}-${seq}`,
    threadId: T,
    seq,
    epoch,
    type: 'step',
    payload: { seq },
    ts: Date.now(),
  };
}

function harness() {
  let listeners: Partial<ClusterBusListeners> = {};
  const bus = {
    listen(l: Partial<ClusterBusListeners>) {
      listeners = l;
      return () => undefined;
    },
    watchThread: () => Promise.resolve(),
    unwatchThread: () => undefined,
  } as unknown as ClusterBus;

  const stored: ThreadEvent[] = [];
  let epoch = 'E1';
  const pendingReads: Array<() => void> = [];
  let holdReads = false;
  const state = (): LogState => ({ epoch, headSeq: stored.length, firstSeq: 1 });
  const log = {
    state: () => Promise.resolve({ ...state(), headSeq: stored.length }),
    read(_t: string, afterSeq: number, limit: number): Promise<HistorySlice> {
      // The read sees the log as it is when Redis runs it (now); its answer may come late.
      const slice = { ...state(), events: stored.filter((e) => e.seq > afterSeq).slice(0, limit) };
      if (!holdReads) return Promise.resolve(slice);
      return new Promise((resolve) => pendingReads.push(() => resolve(slice)));
    },
  } as unknown as MessageLog;

  const room: ThreadEvent[] = [];
  const sockets = {
    hasThreadRoom: () => true,
    emitToThread: (_t: string, _name: string, e: PreEncodedJson) =>
      room.push(JSON.parse(e.json) as ThreadEvent),
  } as unknown as LocalSockets;

  const live = new LiveThreadEvents(
    bus,
    log,
    sockets,
    resolveRelayOptions({
      authenticate: () => null,
      logger: { log() {}, warn() {}, error() {}, debug() {}, verbose() {} },
    }),
  );
  return {
    live,
    room,
    /** Appends and announces (the bus delivers it). */
    publish(seqEpoch?: string) {
      const e = event(stored.length + 1, seqEpoch ?? epoch);
      stored.push(e);
      listeners.threadEvent?.(LiveEvent.of(e));
      return e;
    },
    /** Appends while the subscriber is away: stored, never heard. */
    lose() {
      stored.push(event(stored.length + 1, epoch));
    },
    resync: () => listeners.resync?.(),
    holdReads(on: boolean) {
      holdReads = on;
    },
    answerReads() {
      for (const answer of pendingReads.splice(0)) answer();
    },
    newEpoch(next: string) {
      stored.length = 0;
      epoch = next;
    },
    line: () => (live as unknown as { lines: Map<string, ThreadLine> }).lines.get(T),
  };
}

const flush = () => new Promise((r) => setImmediate(r));
const seqs = (events: ThreadEvent[]) => events.map((e) => `${e.epoch}:${e.seq}`);

describe('the live line of a thread', () => {
  it('does not send past a gap when the subscriber is lost again while a gap is filled', async () => {
    const h = harness();
    await h.live.watch(T, 'c1');
    h.publish(); // 1
    h.lose(); // 2, 3: lost while the subscriber was away
    h.lose();
    h.holdReads(true);
    h.publish(); // 4: past a gap, the fill reads 2..4 (its answer is slow)
    // The subscriber is lost again during the fill: 5 and 6 are never heard; it comes back,
    // hears 7, and says resync.
    h.lose();
    h.lose();
    h.publish(); // 7
    h.resync();
    h.holdReads(false);
    h.answerReads();
    await flush();
    await flush();
    expect(seqs(h.room)).toEqual(['E1:1', 'E1:2', 'E1:3', 'E1:4', 'E1:5', 'E1:6', 'E1:7']);
  });

  it('holds a bounded number of events while a fill is slow', async () => {
    const h = harness();
    await h.live.watch(T, 'c1');
    h.publish();
    h.lose();
    h.holdReads(true);
    // A busy thread keeps streaming while the gap read is outstanding.
    for (let i = 0; i < 20_000; i++) h.publish();
    // Like ReplayGate, the line holds a bounded number and lets the rest be read from the log.
    expect(h.line()?.waitingCount).toBeLessThanOrEqual(MAX_WAITING);
    // What was let go is read from the log: the room still gets every event, in order.
    h.holdReads(false);
    h.answerReads();
    for (let i = 0; i < 1_000 && h.room.length < 20_002; i++) await flush();
    expect(h.room.map((e) => e.seq)).toEqual(Array.from({ length: 20_002 }, (_, i) => i + 1));
  });

  it('never sends an old log’s events after the new log’s', async () => {
    const h = harness();
    await h.live.watch(T, 'c1');
    h.publish(); // E1:1
    h.lose(); // E1:2 lost
    h.holdReads(true);
    h.publish(); // E1:3: gap, fill pending
    // The log is dropped and recreated (unregister + register, or expiry); E2 starts.
    h.newEpoch('E2');
    h.publish(); // E2:1
    h.holdReads(false);
    h.answerReads();
    await flush();
    await flush();
    h.publish(); // E2:2
    const sent = seqs(h.room);
    const firstE2 = sent.indexOf('E2:1');
    // Nothing of E1 may follow E2's first event on the wire.
    expect(sent.slice(firstE2).filter((s) => s.startsWith('E1:'))).toEqual([]);
  });
});
