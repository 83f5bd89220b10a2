import {
  Body,
  Controller,
  Get,
  HttpCode,
  Inject,
  Param,
  Post,
  Query,
  Req,
  UseFilters,
} from '@nestjs/common';
import type { Request } from 'express';
import { DeliveryService } from '../delivery/delivery.service.js';
import { UserMessageService } from '../delivery/user-message.service.js';
import { BadRequestError } from '../errors/bad-request.error.js';
import { parseClientPayload } from '../payloads/parse-client-payload.js';
import { userMessageSchema } from '../payloads/client-payload.schemas.js';
import type { HistoryPage } from '../protocol.js';
import { ThreadAdmissionService } from '../registry/thread-admission.service.js';
import { HttpUserAuthService } from './http-user-auth.service.js';
import { RelayErrorFilter } from './relay-error.filter.js';
import { UserReadBudget } from '../limits/user-read-budget.js';
import type { LocalRateLimiter } from '../limits/local-rate-limiter.js';
import { USER_REQUEST_LIMITER } from '../thread-relay.constants.js';

/** Largest page a client may ask for; bigger `limit`s are capped, not refused. */
export const HISTORY_LIMIT_CAP = 500;

/** A page also ends at about this many bytes of events: fewer than `limit` is not the end. */
export const HISTORY_PAGE_BYTES = 1024 * 1024;

function nonNegativeInt(name: string, raw: unknown, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  if (typeof raw !== 'string' || !/^\d{1,15}$/.test(raw)) {
    throw new BadRequestError(`${name} must be a non-negative integer`);
  }
  return Number(raw);
}

/** History and send for the thread's owner: the SDK's polling fallback and plain REST clients. */
@Controller('threads')
@UseFilters(RelayErrorFilter)
export class HistoryController {
  constructor(
    private readonly auth: HttpUserAuthService,
    private readonly admission: ThreadAdmissionService,
    private readonly delivery: DeliveryService,
    private readonly userMessages: UserMessageService,
    @Inject(USER_REQUEST_LIMITER) private readonly limiter: LocalRateLimiter,
    private readonly readBudget: UserReadBudget,
  ) {}

  @Get(':threadId/messages')
  async messages(
    @Req() request: Request,
    @Param('threadId') threadId: string,
    @Query('after') after?: unknown,
    @Query('limit') limit?: unknown,
  ): Promise<HistoryPage> {
    const userId = await this.auth.userId(request);
    this.limiter.take(userId);
    const tid = await this.admission.admit(userId, threadId, 'read');
    const afterSeq = nonNegativeInt('after', after, 0);
    const wanted = nonNegativeInt('limit', limit, 100);
    if (wanted === 0) throw new BadRequestError('limit must be at least 1');
    const pageSize = Math.min(wanted, HISTORY_LIMIT_CAP);
    // The page's bound is held before the read and the page ends at what was held, so reads
    // at once share what the user has and none can take more than its part (beyond one event).
    const reserved = this.readBudget.reserve(userId, HISTORY_PAGE_BYTES);
    let used = 0;
    try {
      const { page, bytes } = await this.delivery.readPage(tid, afterSeq, pageSize, reserved);
      used = bytes;
      return page;
    } finally {
      this.readBudget.settle(userId, reserved, used);
    }
  }

  @Post(':threadId/messages')
  @HttpCode(200)
  async send(
    @Req() request: Request,
    @Param('threadId') threadId: string,
    @Body() body: unknown,
  ): Promise<object> {
    const userId = await this.auth.userId(request);
    this.limiter.take(userId);
    const input = parseClientPayload(
      userMessageSchema,
      { ...(typeof body === 'object' && body !== null ? body : {}), threadId },
      'POST /threads/:threadId/messages',
    );
    const result = await this.userMessages.submit(
      userId,
      input.threadId,
      input.text,
      input.clientMessageId,
    );
    return { ok: true, ...result };
  }
}
