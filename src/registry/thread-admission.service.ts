import { Inject, Injectable } from '@nestjs/common';
import { ForbiddenError } from '../errors/forbidden.error.js';
import { ThreadOwnershipConflictError } from '../errors/thread-ownership-conflict.error.js';
import { ThreadNotFoundError } from '../errors/thread-not-found.error.js';
import { RELAY_OPTIONS, type ResolvedRelayOptions } from '../thread-relay.options.js';
import type { ThreadAction } from '../thread-relay.options.js';
import { ThreadRegistryService } from './thread-registry.service.js';

/**
 * Decides whether a user may act on a thread, registering an unregistered thread to them
 * when `autoRegisterThreads` is on. One rule for the socket join and the REST routes, so a
 * client that starts on REST polling (websocket blocked) can open a new thread too.
 */
@Injectable()
export class ThreadAdmissionService {
  constructor(
    private readonly registry: ThreadRegistryService,
    @Inject(RELAY_OPTIONS) private readonly options: ResolvedRelayOptions,
  ) {}

  /** Throws `ForbiddenError`, or `ThreadNotFoundError` when the thread is unknown and cannot be created. */
  async admit(userId: string, threadId: string, action: ThreadAction): Promise<void> {
    const thread = await this.registry.getThread(threadId);
    if (thread) {
      if (!(await this.registry.canAccess(userId, threadId, action)))
        throw new ForbiddenError(userId, threadId);
      return;
    }
    const { autoRegisterThreads, threadAccess } = this.options;
    if (!autoRegisterThreads && !threadAccess) throw new ThreadNotFoundError(threadId);
    if (threadAccess && !(await this.registry.canAccess(userId, threadId, action)))
      throw new ForbiddenError(userId, threadId);
    if (autoRegisterThreads) await this.claim(userId, threadId);
  }

  private async claim(userId: string, threadId: string): Promise<void> {
    try {
      await this.registry.registerThread(threadId, userId);
    } catch (error) {
      // Someone else claimed it between the read and the claim.
      if (error instanceof ThreadOwnershipConflictError) throw new ForbiddenError(userId, threadId);
      throw error;
    }
  }
}
