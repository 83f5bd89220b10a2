import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { type ClusterBus } from '../cluster/cluster-bus.js';
import { CLUSTER_BUS, MESSAGE_LOG, RELAY_OPTIONS } from '../thread-relay.constants.js';
import type { LiveEvent } from '../cluster/live-event.js';
import { PreEncodedJson } from '../sockets/pre-encoded-json.js';
import { ServerEvents, type ThreadEvent } from '../protocol.js';
import { LocalSockets } from '../sockets/local-sockets.js';
import { RelayLogger } from '../thread-relay.logger.js';
import { type ResolvedRelayOptions } from '../thread-relay.options.js';
import { AvailabilityDeadlines } from './availability.js';
import { type MessageLog } from './message-log.interface.js';
import { ReplayGate } from './replay-gate.js';
import { HeadWaiters } from './head-waiters.js';
import { LiveGapFiller } from './live-gap-filler.js';
import { ThreadLine } from './thread-line.js';
import { SetsByKey } from '../sets-by-key.js';

interface Watchers {
  holders: Set<string>;
  ready: Promise<void>;
}

/**
 * The live events of the threads this instance hosts. A thread is watched on the cluster
 * bus while something here holds it (a connection joined or joining); its events are
 * sent to the thread's room strictly in seq order, each once: a repeat is dropped, and an
 * event past a gap (messages lost while the bus was away) waits while the gap is read
 * from the log. Connections still replaying hold live events back through their gate, so
 * what a connection sees is its replay then the live stream, with no gap or repeat.
 */
@Injectable()
export class LiveThreadEvents implements OnModuleDestroy {
  private readonly log: RelayLogger;
  private readonly deadlines: AvailabilityDeadlines;
  private readonly watched = new Map<string, Watchers>();
  private readonly lines = new Map<string, ThreadLine>();
  private readonly gates = new SetsByKey<string, ReplayGate>();
  private readonly taps = new SetsByKey<string, (event: ThreadEvent) => void>();
  private readonly headWaiters = new HeadWaiters();
  private readonly gaps: LiveGapFiller;
  /** Threads whose live events are held while an access change is checked. */
  private readonly holds = new Map<string, number>();
  private readonly releaseWaiters = new Map<string, Array<() => void>>();
  private readonly stopListening: () => void;

  constructor(
    @Inject(CLUSTER_BUS) private readonly bus: ClusterBus,
    @Inject(MESSAGE_LOG) private readonly messages: MessageLog,
    private readonly sockets: LocalSockets,
    @Inject(RELAY_OPTIONS) options: ResolvedRelayOptions,
  ) {
    this.log = RelayLogger.for(LiveThreadEvents.name, options);
    this.deadlines = new AvailabilityDeadlines(options.delivery.unavailableTimeoutMs);
    this.gaps = new LiveGapFiller(messages, this.deadlines, this.log, {
      stillFilling: (threadId, line) =>
        this.lines.get(threadId) === line && !this.holds.has(threadId),
      dispatch: (event, line) => this.dispatch(event, line),
    });
    this.stopListening = bus.listen({
      threadEvent: (event) => this.receive(event),
      resync: () => this.gaps.resync(this.lines),
    });
  }

  onModuleDestroy(): void {
    this.stopListening();
  }

  /**
   * `holder` (a connection id) wants the thread's live events here. Resolves once the
   * subscription is in place: everything stored after that is heard. Match with `unwatch`,
   * also when this rejects.
   */
  async watch(threadId: string, holder: string): Promise<void> {
    let watchers = this.watched.get(threadId);
    if (!watchers) {
      watchers = { holders: new Set(), ready: this.startLine(threadId) };
      // Awaited by the holders; a failure is theirs to report.
      watchers.ready.catch(() => undefined);
      this.watched.set(threadId, watchers);
    }
    watchers.holders.add(holder);
    await this.deadlines.within(watchers.ready, 'subscribe');
  }

  /** `from` hands its hold on the thread to `to` (a join's to its connection), in one step. */
  transfer(threadId: string, from: string, to: string): void {
    const watchers = this.watched.get(threadId);
    if (!watchers?.holders.delete(from)) return;
    watchers.holders.add(to);
  }

  unwatch(threadId: string, holder: string): void {
    const watchers = this.watched.get(threadId);
    if (!watchers?.holders.delete(holder)) return;
    if (watchers.holders.size > 0) return;
    this.watched.delete(threadId);
    this.lines.delete(threadId);
    this.bus.unwatchThread(threadId);
    this.headWaiters.settle(threadId, this.lines.get(threadId));
  }

  /**
   * Subscribes, then starts the thread's line at the log's head: whatever is stored after
   * the subscription is heard, and what was stored before is the log's to replay. (An event
   * heard before the head is read starts the line itself; the read then changes nothing.)
   */
  private async startLine(threadId: string): Promise<void> {
    await this.bus.watchThread(threadId);
    const state = await this.messages.state(threadId);
    if (this.watched.has(threadId) && !this.lines.has(threadId)) {
      this.lines.set(threadId, new ThreadLine(state.epoch, state.headSeq));
    }
  }

  /**
   * Resolves true once this instance has sent the thread's events up to `seq` of `epoch`
   * live, false after `timeoutMs` (the bus may be away) or if the thread moves to another
   * epoch or is no longer watched. A replay that read events from the log waits for them
   * to come by live before its connection joins the room, so they are not sent twice.
   */
  caughtUp(threadId: string, epoch: string, seq: number, timeoutMs: number): Promise<boolean> {
    return this.headWaiters.wait(this.lines.get(threadId), threadId, epoch, seq, timeoutMs);
  }

  /**
   * The live head of the thread here in `epoch` (a replay's). A line that has heard no
   * live event yet only knows the log's state when the thread was first watched (no log
   * at all, or one since replaced): the replay's log is newer, and every event of it is
   * heard live from seq 1, so the line moves to it at head 0.
   */
  liveHead(threadId: string, epoch: string): number | undefined {
    const line = this.lines.get(threadId);
    if (!line) return undefined;
    if (line.epoch === epoch) return line.head;
    if (line.heard > 0 || line.behind || line.filling) return undefined;
    this.lines.set(threadId, new ThreadLine(epoch, 0));
    return 0;
  }

  /** Threads watched here (tests assert interest follows the connections). */
  watchedThreads(): string[] {
    return [...this.watched.keys()];
  }

  /**
   * Calls `listener` with each live event of the thread this instance sends, in seq order,
   * once (the line's order; a new log's events after the old one's). The thread must be
   * watched for events to come. Answers the function that removes the listener.
   */
  tap(threadId: string, listener: (event: ThreadEvent) => void): () => void {
    this.taps.add(threadId, listener);
    return () => this.taps.delete(threadId, listener);
  }

  /** Live events of the thread are held by the gate until `closeGate`. */
  openGate(threadId: string): ReplayGate {
    const gate = new ReplayGate(threadId);
    this.gates.add(threadId, gate);
    return gate;
  }

  closeGate(gate: ReplayGate): void {
    this.gates.delete(gate.threadId, gate);
  }

  /** How many gates are open; tests use it to assert nothing is left behind. */
  get openGates(): number {
    return this.gates.size;
  }

  /** The epoch and highest seq this instance sent to the thread's local connections. */
  sentHead(threadId: string): { epoch: string; head: number } | undefined {
    const line = this.lines.get(threadId);
    return line ? { epoch: line.epoch, head: line.head } : undefined;
  }

  /** `ts` of a recent event of the thread sent here, if it is still remembered. */
  recentTimestamp(threadId: string, seq: number): number | undefined {
    return this.lines.get(threadId)?.timestampOf(seq);
  }

  /** A replay sent this event to a local connection: its ack's latency can be measured. */
  noteSent(event: ThreadEvent): void {
    const line = this.lines.get(event.threadId);
    if (line?.epoch === event.epoch) line.remember(event);
  }

  /**
   * Holds the thread's live events back until the returned release: who may use the
   * thread is being checked again, and nothing may reach a connection that is about to
   * lose it. Call synchronously when the change is heard, before the next message.
   */
  hold(threadId: string): () => void {
    this.holds.set(threadId, (this.holds.get(threadId) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const count = (this.holds.get(threadId) ?? 1) - 1;
      if (count > 0) {
        this.holds.set(threadId, count);
        return;
      }
      this.holds.delete(threadId);
      for (const resolve of this.releaseWaiters.get(threadId) ?? []) resolve();
      this.releaseWaiters.delete(threadId);
      const line = this.lines.get(threadId);
      if (line) this.advance(threadId, line);
    };
  }

  /** Whether the thread's live events are held (an access change is being checked). */
  isHeld(threadId: string): boolean {
    return this.holds.has(threadId);
  }

  /** Resolves when the thread is not held (at once if it is not): replays pause meanwhile. */
  released(threadId: string): Promise<void> {
    if (!this.holds.has(threadId)) return Promise.resolve();
    return new Promise((resolve) => {
      const waiters = this.releaseWaiters.get(threadId) ?? [];
      waiters.push(resolve);
      this.releaseWaiters.set(threadId, waiters);
    });
  }

  private receive(event: LiveEvent): void {
    if (!this.watched.has(event.threadId)) return;
    let line = this.lines.get(event.threadId);
    if (!line || line.epoch !== event.epoch) {
      // The first event heard, or the first of a new log (the old one expired or was
      // dropped): what the old line still waited for belongs to a log that is gone.
      line = new ThreadLine(event.epoch, event.seq - 1);
      this.lines.set(event.threadId, line);
      this.headWaiters.settle(event.threadId, line);
    }
    if (event.seq <= line.head) return;
    line.wait(event, true);
    this.advance(event.threadId, line);
  }

  /** Sends what follows the head without a gap; a gap is read from the log. */
  private advance(threadId: string, line: ThreadLine): void {
    if (line.filling || this.holds.has(threadId)) return;
    for (let event = line.takeNext(); event; event = line.takeNext()) this.dispatch(event, line);
    if (line.behind) void this.gaps.fill(threadId, line);
  }

  private dispatch(event: LiveEvent, line: ThreadLine): void {
    const { threadId } = event;
    line.sent(event);
    const gates = this.gates.get(threadId);
    if (gates) for (const gate of gates) gate.push(event.event);
    // Every live event passes here: only threads with a replay waiting pay for the check.
    if (this.headWaiters.has(threadId)) {
      this.headWaiters.settle(threadId, this.lines.get(threadId));
    }
    const taps = this.taps.get(threadId);
    if (taps) {
      for (const listener of taps) {
        try {
          listener(event.event);
        } catch (error) {
          this.log.error({ msg: 'live event listener failed', threadId, seq: event.seq }, error);
        }
      }
    }
    if (!this.sockets.hasThreadRoom(threadId)) return;
    try {
      // The JSON the bus carried goes on the wire as is (see PreEncodedJson).
      this.sockets.emitToThread(threadId, ServerEvents.event, new PreEncodedJson(event.json));
    } catch (error) {
      this.log.error({ msg: 'fan-out failed', threadId, seq: event.seq }, error);
    }
  }
}
