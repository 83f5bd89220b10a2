import type { Socket } from 'socket.io';
import { threadRoom } from '../sockets/rooms.js';
import {
  ServerEvents,
  type JoinResult,
  type ThreadEvent,
  type ThreadResetNotice,
} from '../protocol.js';
import type { ResolvedRelayOptions } from '../thread-relay.options.js';
import type { LiveThreadEvents } from './live-thread-events.service.js';
import { type HistorySlice, type MessageLog } from './message-log.interface.js';
import { checkCursor } from './message-log.rules.js';
import type { ReplayGate } from './replay-gate.js';

/** What the replay needs of the connection's write buffer (the gateway's OutboundBuffer). */
export interface ReplayOutbound {
  bytes(): number;
  drained(highWaterBytes: number, timeoutMs: number): Promise<boolean>;
}

/**
 * Events read from the log per page, at most; a page also stops at
 * `backpressure.highWaterBytes` of events, since it is held in memory while a slow client
 * is waited for (and joins in progress per connection are capped).
 */
const PAGE = 100;

export interface ReplayDeps {
  log: MessageLog;
  live: LiveThreadEvents;
  /** What the connection has not read yet; the replay waits while it is high. */
  outbound: ReplayOutbound;
  backpressure: ResolvedRelayOptions['backpressure'];
  /** Longest wait for events read from the log to come by live before going live (the bus may be away). */
  seamWaitMs: number;
  /** False once the connection left the thread (or joined it again): stop, never go live. */
  wanted: () => boolean;
  /** The user's log-read budget: a page's bound is reserved (waited for) before it is read, and settled after. */
  budget: {
    reserve(bytes: number): { reserved: number; waitMs: number };
    settle(reserved: number, used: number): void;
  };
}

export interface ReplayOutcome {
  sent: number;
  /** The client stayed behind for `backpressure.stallTimeoutMs`: cut it. */
  stalled: boolean;
}

export interface ReplayPlan {
  result: JoinResult;
  reset: ThreadResetNotice | null;
  /**
   * The client's `lastSeq` when it resumed in the log's current epoch (it names the epoch
   * and the seq is still in the log), else 0: the client holds every event up to it.
   */
  resumedFrom: number;
  /** Sends the missed events, then the held live ones, then joins the room; call after acking. */
  run(): Promise<ReplayOutcome>;
  /** Gives up without joining (the socket went away or the join failed). */
  abort(): void;
}

/**
 * Plans a join: replay from the client's cursor, then live. Live events that arrive during
 * the replay are held by a gate and sent after it, and the room is joined in the same tick
 * as the last of them is sent, so there is no gap and no duplicate at the seam.
 */
export async function planReplay(
  socket: Socket,
  threadId: string,
  lastSeq: number | undefined,
  epoch: string | undefined,
  deps: ReplayDeps,
): Promise<ReplayPlan> {
  const { log, live } = deps;
  const gate = live.openGate(threadId);
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    live.closeGate(gate);
  };
  try {
    const state = await log.ensure(threadId);
    let cursor: number;
    let reset: ThreadResetNotice | null = null;
    let resumedFrom = 0;
    if (lastSeq === undefined && epoch === undefined) {
      cursor = state.firstSeq - 1;
    } else {
      const check = checkCursor(state, lastSeq ?? 0, epoch);
      if (check.ok) {
        cursor = lastSeq ?? 0;
        if (epoch !== undefined) resumedFrom = cursor;
      } else {
        reset = { threadId, epoch: state.epoch, headSeq: state.headSeq, reason: check.reason };
        cursor = state.headSeq;
      }
    }
    const result: JoinResult = {
      threadId,
      epoch: state.epoch,
      headSeq: state.headSeq,
      replayed: state.headSeq - cursor,
    };
    return {
      result,
      reset,
      resumedFrom,
      abort: close,
      run: async () => {
        try {
          if (reset) socket.emit(ServerEvents.reset, reset);
          return await replay(socket, threadId, cursor, state.epoch, gate, deps);
        } finally {
          close();
        }
      },
    };
  } catch (error) {
    close();
    throw error;
  }
}

async function replay(
  socket: Socket,
  threadId: string,
  from: number,
  startEpoch: string,
  gate: ReplayGate,
  deps: ReplayDeps,
): Promise<ReplayOutcome> {
  const { log, live, outbound, backpressure, wanted, budget } = deps;
  let cursor = from;
  let epoch = startEpoch;
  let sent = 0;
  let stalled = false;
  const send = (event: ThreadEvent) => {
    socket.emit(ServerEvents.event, event);
    live.noteSent(event);
    cursor = event.seq;
    sent += 1;
  };
  /** Waits while the client is behind; false when it stays behind (or goes away). */
  const keepUp = async () => {
    if (outbound.bytes() <= backpressure.highWaterBytes) return true;
    const drained = await outbound.drained(
      backpressure.highWaterBytes,
      backpressure.stallTimeoutMs,
    );
    if (!drained && !socket.disconnected) stalled = true;
    return drained;
  };
  let heldBack = false;
  let seamWaited = false;
  const gone = () => socket.disconnected || !wanted();
  replaying: for (;;) {
    const before = cursor;
    for (;;) {
      // Waited for before the read: a page is held in memory while the client catches up.
      if (!(await keepUp()) || gone()) return { sent, stalled };
      let hold = budget.reserve(backpressure.highWaterBytes);
      while (hold.waitMs > 0) {
        await new Promise((resolve) => setTimeout(resolve, Math.min(hold.waitMs, 1_000)));
        if (gone()) return { sent, stalled };
        hold = budget.reserve(backpressure.highWaterBytes);
      }
      let slice: HistorySlice;
      try {
        slice = await log.read(threadId, cursor, PAGE, hold.reserved);
      } catch (error) {
        budget.settle(hold.reserved, 0);
        throw error;
      }
      budget.settle(hold.reserved, slice.bytes ?? 0);
      if (slice.epoch !== epoch) {
        // The log was dropped or expired while replaying: say so instead of mixing epochs,
        // then go on in the new log after its head, as a join whose cursor is refused does
        // (the client reloads up to that head). Returning here would leave the connection
        // out of the room: joined, yet deaf to the thread.
        socket.emit(ServerEvents.reset, {
          threadId,
          epoch: slice.epoch,
          headSeq: slice.headSeq,
          reason: 'epoch_mismatch',
        } satisfies ThreadResetNotice);
        epoch = slice.epoch;
        cursor = slice.headSeq;
        heldBack = false;
        seamWaited = false;
        continue replaying;
      }
      const pageStart = cursor;
      for (const event of slice.events) {
        if (event.seq !== cursor + 1) continue;
        // Who may use the thread is being checked again: nothing more until that is done.
        if (live.isHeld(threadId)) await live.released(threadId);
        if (gone()) return { sent, stalled };
        send(event);
        if (!(await keepUp())) return { sent, stalled };
      }
      // A page cut short by bytes is not the end: only the head is, or no progress (the
      // next events were trimmed meanwhile; what is held is sent below).
      if (cursor >= slice.headSeq || cursor === pageStart) break;
    }
    if (gone()) return { sent, stalled };
    for (;;) {
      const held = gate.drain(cursor, epoch);
      if (held.overflowed) {
        // Live events were let go while the client was slow: they are in the log.
        for (const event of held.events) gate.push(event);
        continue replaying;
      }
      let index = 0;
      while (index < held.events.length && (heldBack || held.events[index]?.seq === cursor + 1)) {
        const event = held.events[index];
        if (event) send(event);
        index += 1;
      }
      if (index < held.events.length) {
        // A held event is ahead of the cursor (an earlier one is still in flight): keep the
        // rest and read the missing ones from the log. If the log had nothing new either,
        // the missing events are gone (trimmed): send what is held rather than wait
        // forever; the client fills or resets from history.
        for (const event of held.events.slice(index)) gate.push(event);
        heldBack = cursor === before;
        continue replaying;
      }
      // Events the log gave this replay may still be on their way live (stored after the
      // thread was watched): joining the room now would send them again. Wait for them;
      // they pass the gate, below the cursor. A bus that is away is not waited for long.
      const liveHead = live.liveHead(threadId, epoch);
      if (liveHead !== undefined && liveHead < cursor && !seamWaited) {
        seamWaited = !(await live.caughtUp(threadId, epoch, cursor, deps.seamWaitMs));
        if (gone()) return { sent, stalled };
        continue;
      }
      // Same tick as the last held event: nothing can slip between it and the room join.
      void socket.join(threadRoom(threadId));
      return { sent, stalled };
    }
  }
}
