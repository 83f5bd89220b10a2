import { Inject, Injectable } from '@nestjs/common';
import { ForbiddenError } from '../errors/forbidden.error.js';
import { USER_MESSAGE_TYPE, type UserMessageResult } from '../protocol.js';
import { ThreadRegistryService } from '../registry/thread-registry.service.js';
import { RelayLogger } from '../thread-relay.logger.js';
import {
  RELAY_OPTIONS,
  type ResolvedRelayOptions,
  type UserMessage,
  type UserMessageHandler,
} from '../thread-relay.options.js';
import { DeliveryService } from './delivery.service.js';

/**
 * A user's own message into a thread, from the socket or the REST fallback: stored in the
 * thread log as `user_message` (idempotent on the client's message id) and handed once to
 * the application's handler.
 */
@Injectable()
export class UserMessageService {
  private readonly log: RelayLogger;
  private readonly handlers = new Set<UserMessageHandler>();

  constructor(
    private readonly delivery: DeliveryService,
    private readonly registry: ThreadRegistryService,
    @Inject(RELAY_OPTIONS) options: ResolvedRelayOptions,
  ) {
    this.log = RelayLogger.for(UserMessageService.name, options);
    if (options.onUserMessage) this.handlers.add(options.onUserMessage);
  }

  /** Registers a handler for new user messages; returns a function that removes it. */
  onMessage(handler: UserMessageHandler): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  async submit(
    userId: string,
    threadId: string,
    text: string,
    clientMessageId: string,
  ): Promise<UserMessageResult & { duplicate: boolean }> {
    if (!(await this.registry.canAccess(userId, threadId, 'write'))) {
      throw new ForbiddenError(userId, threadId);
    }
    const receipt = await this.delivery.sendToThread(
      threadId,
      USER_MESSAGE_TYPE,
      { text, userId, clientMessageId },
      { idempotencyKey: `um.${userId}.${clientMessageId}` },
    );
    if (!receipt.duplicate) {
      const message: UserMessage = {
        userId,
        threadId: receipt.threadId,
        text,
        clientMessageId,
        seq: receipt.seq,
        messageId: receipt.messageId,
      };
      for (const handler of this.handlers) void this.invoke(handler, message);
    }
    return {
      seq: receipt.seq,
      epoch: receipt.epoch,
      messageId: receipt.messageId,
      duplicate: receipt.duplicate,
    };
  }

  private async invoke(handler: UserMessageHandler, message: UserMessage): Promise<void> {
    try {
      await handler(message);
    } catch (error) {
      this.log.error(
        { msg: 'user message handler failed', threadId: message.threadId, seq: message.seq },
        error,
      );
    }
  }
}
