import { Inject, Injectable } from '@nestjs/common';
import { RelayLogger } from '../thread-relay.logger.js';
import { RELAY_OPTIONS, type ResolvedRelayOptions } from '../thread-relay.options.js';
import { EventFanoutService } from './event-fanout.service.js';
import { MESSAGE_LOG, type MessageLog } from './message-log.interface.js';

/** Most events of one thread sent by a catch-up; a longer gap is left to the clients' gap fill. */
const MAX_EVENTS_PER_THREAD = 500;
/** Threads read at once. */
const CONCURRENCY = 16;

/**
 * An instance killed between storing an event and fanning it out leaves the event in the
 * log but on no screen: connections on other instances would see it only when a later
 * event revealed the gap, and never if it was the run's last. When a dead instance is
 * swept, every instance compares, for each thread joined here, the log's head with the
 * highest seq it sent, and sends what is missing.
 */
@Injectable()
export class MissedEventsCatchUp {
  private readonly log: RelayLogger;
  private running: Promise<void> | null = null;
  private again = false;

  constructor(
    private readonly fanout: EventFanoutService,
    @Inject(MESSAGE_LOG) private readonly messages: MessageLog,
    @Inject(RELAY_OPTIONS) options: ResolvedRelayOptions,
  ) {
    this.log = RelayLogger.for(MissedEventsCatchUp.name, options);
    fanout.onInstanceGone((instanceId) => {
      void this.request(instanceId);
    });
  }

  /** Runs a catch-up, or one more after the one under way (notices can come from several sweepers). */
  request(instanceId: string): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.runUntilSettled(instanceId).finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async runUntilSettled(instanceId: string): Promise<void> {
    do {
      this.again = false;
      await this.catchUp(instanceId);
    } while (this.again);
  }

  private async catchUp(instanceId: string): Promise<void> {
    const threads = this.fanout.locallyJoinedThreads();
    let sent = 0;
    let failed = 0;
    for (let i = 0; i < threads.length; i += CONCURRENCY) {
      const batch = threads.slice(i, i + CONCURRENCY);
      const counts = await Promise.all(
        batch.map((threadId) =>
          this.catchUpThread(threadId).catch((error: unknown) => {
            failed += 1;
            this.log.warn({
              msg: 'catch-up read failed',
              threadId,
              reason: error instanceof Error ? error.message : String(error),
            });
            return 0;
          }),
        ),
      );
      for (const count of counts) sent += count;
    }
    this.log.info({
      msg: 'caught up after an instance died',
      instanceId,
      threads: threads.length,
      events: sent,
      failed,
    });
  }

  private async catchUpThread(threadId: string): Promise<number> {
    const before = this.fanout.sentHead(threadId);
    if (!before) return 0;
    const slice = await this.messages.read(threadId, before.head, MAX_EVENTS_PER_THREAD);
    // Live events may have gone out during the read: only what is still beyond them.
    const now = this.fanout.sentHead(threadId);
    if (!now || slice.epoch !== now.epoch) return 0;
    let sent = 0;
    for (const event of slice.events) {
      if (event.seq <= now.head) continue;
      this.fanout.redeliver(event);
      sent += 1;
    }
    return sent;
  }
}
