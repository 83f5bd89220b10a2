import { Inject, Injectable } from '@nestjs/common';
import { BadRequestError } from '../errors/bad-request.error.js';
import { ForbiddenError } from '../errors/forbidden.error.js';
import { LimitExceededError } from '../errors/limit-exceeded.error.js';
import { quoteId } from '../errors/relay-error.js';
import { ThreadNotFoundError } from '../errors/thread-not-found.error.js';
import { type ResolvedRelayOptions } from '../thread-relay.options.js';
import { RELAY_OPTIONS } from '../thread-relay.constants.js';
import type { ThreadAction } from '../thread-relay.options.js';
import { assertValidId, isRunFormId } from '../ids.js';
import { ThreadRegistryService } from './thread-registry.service.js';

/**
 * Decides whether a user may act on a thread named by a client, one rule for the socket
 * and the REST routes:
 * - clients name threads, never runs: a run-form id or a registered run's id is
 *   `BAD_REQUEST` (a client that could join a run id would receive the run's events);
 * - a registered thread: the `threadAccess` hook, else its owner only (`FORBIDDEN`);
 * - an unregistered thread is registered to the user by a join or a write when
 *   `autoRegisterThreads` is on (leased and capped per user); a read never registers
 *   anything: it is `THREAD_NOT_FOUND` unless the hook admits it.
 *
 * The returned thread id is the one the action must use: nothing resolves it again.
 */
@Injectable()
export class ThreadAdmissionService {
  constructor(
    private readonly registry: ThreadRegistryService,
    @Inject(RELAY_OPTIONS) private readonly options: ResolvedRelayOptions,
  ) {}

  async admit(userId: string, id: unknown, action: ThreadAction): Promise<string> {
    const threadId = assertValidId(id, 'threadId');
    if (isRunFormId(threadId)) throw runIdError(threadId);
    const thread = await this.registry.getThread(threadId);
    if (thread) {
      if (!(await this.registry.mayAccess(userId, threadId, thread, action))) {
        throw new ForbiddenError(userId, threadId);
      }
      if (thread.autoRegistered) this.registry.touchThread(threadId);
      return threadId;
    }
    const { autoRegisterThreads, threadAccess } = this.options;
    if (threadAccess && !(await this.registry.mayAccess(userId, threadId, null, action))) {
      throw new ForbiddenError(userId, threadId);
    }
    if (action === 'read' || !autoRegisterThreads) {
      // The hook admits unregistered threads as they are; without it there is nothing here.
      if (threadAccess) return threadId;
      if ((await this.registry.lookupId(threadId))?.kind === 'run') throw runIdError(threadId);
      throw new ThreadNotFoundError(threadId);
    }
    return this.claim(userId, threadId, action);
  }

  private async claim(userId: string, threadId: string, action: ThreadAction): Promise<string> {
    const result = await this.registry.claimForUser(threadId, userId);
    switch (result.outcome) {
      case 'created':
        return threadId;
      case 'existing':
        // Registered by someone else between the read and the claim.
        if (!(await this.registry.mayAccess(userId, threadId, result.record, action))) {
          throw new ForbiddenError(userId, threadId);
        }
        return threadId;
      case 'run_id':
        throw runIdError(threadId);
      case 'limit':
        throw new LimitExceededError(
          'limits.autoRegisteredThreadsPerUser',
          `User ${quoteId(userId)} already has ${result.limit} auto-registered threads; join or write to one of them, or wait for unused ones to expire`,
        );
    }
  }
}

function runIdError(threadId: string): BadRequestError {
  return new BadRequestError(
    `${quoteId(threadId)} is reserved for runs (a run-form id <thread>_run_<millis>_<hex>, or a registered run id): name the run's thread instead`,
  );
}
