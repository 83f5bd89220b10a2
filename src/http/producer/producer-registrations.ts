import { Inject, Injectable } from '@nestjs/common';
import { AvailabilityDeadlines } from '../../delivery/availability.js';
import type { ThreadMetadata } from '../../thread-record.js';
import { ThreadRegistryService } from '../../registry/thread-registry.service.js';
import { type ResolvedRelayOptions } from '../../thread-relay.options.js';
import { RELAY_OPTIONS } from '../../thread-relay.constants.js';

export interface ThreadRegistration {
  threadId: string;
  ownerId: string;
  created: boolean;
}

export interface RunRegistration {
  runId: string;
  threadId: string;
  created: boolean;
}

/**
 * Registrations for the producer routes: the registry's own calls, bounded by
 * `delivery.unavailableTimeoutMs` so an unreachable store is a 503 the producer retries
 * rather than a request that hangs.
 *
 * `created` comes from a read before the (idempotent) registration, as the registry does
 * not say whether it created. Two first registrations of one id racing may both say
 * `created: true`; what is registered is right either way.
 */
@Injectable()
export class ProducerRegistrations {
  private readonly deadlines: AvailabilityDeadlines;

  constructor(
    private readonly registry: ThreadRegistryService,
    @Inject(RELAY_OPTIONS) options: ResolvedRelayOptions,
  ) {
    this.deadlines = new AvailabilityDeadlines(options.delivery.unavailableTimeoutMs);
  }

  async registerThread(
    threadId: string,
    ownerId: string,
    metadata: ThreadMetadata | undefined,
  ): Promise<ThreadRegistration> {
    const before = await this.deadlines.within(this.registry.getThread(threadId), 'read thread');
    const record = await this.deadlines.within(
      this.registry.registerThread(threadId, ownerId, metadata),
      'register thread',
    );
    return { threadId: record.threadId, ownerId: record.ownerId, created: before === null };
  }

  async registerRun(runId: string, threadId: string): Promise<RunRegistration> {
    const before = await this.deadlines.within(this.registry.lookupId(runId), 'read run');
    await this.deadlines.within(this.registry.registerRun(runId, threadId), 'register run');
    return { runId, threadId, created: before === null };
  }

  /** The thread a thread, run or run-form id names (THREAD_NOT_FOUND if none). */
  async resolve(id: string): Promise<string> {
    return (await this.deadlines.within(this.registry.resolveDetailed(id), 'resolve')).threadId;
  }
}
