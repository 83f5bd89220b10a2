import { Controller, Get, Inject, Param, Post, Query, Req, Res, UseFilters } from '@nestjs/common';
import type { Request, Response } from 'express';
import { UnauthorizedError } from '../errors/unauthorized.error.js';
import { HttpUserAuthService } from '../http/http-user-auth.service.js';
import { RelayErrorFilter } from '../http/relay-error.filter.js';
import type { LocalRateLimiter } from '../limits/local-rate-limiter.js';
import { USER_REQUEST_LIMITER } from '../thread-relay.constants.js';
import { ThreadAdmissionService } from '../registry/thread-admission.service.js';
import { parseSseCursor } from './sse-cursor.js';
import { parseSseFormat } from './sse-formats.js';
import { SseStreams } from './sse-streams.service.js';
import { StreamTickets, type TicketGrant } from './stream-tickets.js';

/**
 * A thread as Server-Sent Events, for the thread's readers: `Authorization: Bearer` or a
 * single-use `?ticket=` (EventSource cannot set headers). Resumes after `Last-Event-ID`
 * (or `?lastEventId=`); `?format=ag-ui|ai-sdk` renders the events for those clients.
 */
@Controller('threads')
@UseFilters(RelayErrorFilter)
export class SseController {
  constructor(
    private readonly auth: HttpUserAuthService,
    private readonly admission: ThreadAdmissionService,
    @Inject(USER_REQUEST_LIMITER) private readonly limiter: LocalRateLimiter,
    private readonly tickets: StreamTickets,
    private readonly streams: SseStreams,
  ) {}

  /** 201 with a ticket for `?ticket=`, single-use and short-lived. */
  @Post(':threadId/stream-tickets')
  async ticket(
    @Req() request: Request,
    @Param('threadId') threadId: string,
  ): Promise<{ ticket: string; expiresInMs: number }> {
    const { userId, expiresAt } = await this.auth.credential(request);
    this.limiter.take(userId);
    const tid = await this.admission.admit(userId, threadId, 'read');
    return this.tickets.issue({ userId, threadId: tid, expiresAt });
  }

  @Get(':threadId/events')
  async events(
    @Req() request: Request,
    @Res() res: Response,
    @Param('threadId') threadId: string,
    @Query('ticket') ticket?: unknown,
    @Query('lastEventId') lastEventId?: unknown,
    @Query('format') format?: unknown,
  ): Promise<void> {
    const header = request.headers['last-event-id'];
    const cursor = parseSseCursor(header ?? lastEventId);
    const rendering = parseSseFormat(format);
    const grant = await this.grant(request, threadId, ticket);
    this.limiter.take(grant.userId);
    const tid = await this.admission.admit(grant.userId, threadId, 'read');
    await this.streams.follow(res, {
      userId: grant.userId,
      threadId: tid,
      cursor,
      format: rendering,
      expiresAt: grant.expiresAt,
    });
  }

  private async grant(request: Request, threadId: string, ticket: unknown): Promise<TicketGrant> {
    if (ticket !== undefined) {
      if (typeof ticket !== 'string') throw new UnauthorizedError('ticket must be a string');
      return this.tickets.redeem(ticket, threadId);
    }
    const { userId, expiresAt } = await this.auth.credential(request);
    return { userId, threadId, expiresAt };
  }
}
