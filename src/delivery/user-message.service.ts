import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { InvalidPayloadError } from '../errors/invalid-payload.error.js';
import { USER_MESSAGE_TYPE, type UserMessageResult } from '../protocol.js';
import { ThreadAdmissionService } from '../registry/thread-admission.service.js';
import { RelayLogger } from '../thread-relay.logger.js';
import {
  type ResolvedRelayOptions,
  type UserMessage,
  type UserMessageHandler,
} from '../thread-relay.options.js';
import { RELAY_OPTIONS } from '../thread-relay.constants.js';
import { DeliveryService } from './delivery.service.js';
import { userMessageTextLimit } from './user-message-limits.js';
import { UserMessageRateLimiter } from './user-message-rate-limiter.js';

/**
 * A user's own message into a thread, from the socket or the REST fallback: admitted
 * (owner or hook; an unregistered thread is registered to the writer), rate limited per
 * user, stored in the thread log as `user_message` (idempotent on the client's message
 * id) and handed once to the application's handlers.
 */
@Injectable()
export class UserMessageService {
  private readonly log: RelayLogger;
  private readonly handlers = new Set<UserMessageHandler>();
  private readonly maxTextBytes: number;

  constructor(
    private readonly delivery: DeliveryService,
    private readonly admission: ThreadAdmissionService,
    private readonly rateLimiter: UserMessageRateLimiter,
    @Inject(RELAY_OPTIONS) options: ResolvedRelayOptions,
  ) {
    this.log = RelayLogger.for(UserMessageService.name, options);
    this.maxTextBytes = userMessageTextLimit(options.delivery.maxEventBytes);
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
    const bytes = Buffer.byteLength(JSON.stringify(text), 'utf8');
    if (bytes > this.maxTextBytes) {
      throw new InvalidPayloadError(
        'PAYLOAD_TOO_LARGE',
        `text is ${bytes} bytes as JSON, above the ${this.maxTextBytes}-byte limit (delivery.maxEventBytes less room for the message's other fields)`,
      );
    }
    // Before the admission, which may register the thread: a refused message does nothing.
    await this.rateLimiter.take(userId);
    // One decision, and the append goes to the thread it was made for.
    const target = await this.admission.admit(userId, threadId, 'write');
    const receipt = await this.delivery.deliver(
      { threadId: target },
      USER_MESSAGE_TYPE,
      { text, userId, clientMessageId },
      { idempotencyKey: userMessageKey(userId, clientMessageId) },
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

/**
 * The idempotency key of a user message: a digest of the (user, client message id) pair,
 * so it has a fixed length whatever the ids' lengths, and two different pairs never share
 * a key (a plain `user.id` join made `a.b` + `c` equal to `a` + `b.c`).
 */
export function userMessageKey(userId: string, clientMessageId: string): string {
  const digest = createHash('sha256')
    .update(JSON.stringify([userId, clientMessageId]))
    .digest('base64url');
  return `um:${digest}`;
}
