import {
  Body,
  Controller,
  Get,
  HttpCode,
  Inject,
  Param,
  Post,
  Put,
  Query,
  Req,
  Res,
  UseFilters,
  UseGuards,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { DeliveryService } from '../../delivery/delivery.service.js';
import type { DeliveryReceipt } from '../../delivery/delivery.types.js';
import { assertValidId } from '../../ids.js';
import { RelayErrorFilter } from '../relay-error.filter.js';
import { DeliveryWait, type DeliveryStatus } from './delivery-wait.js';
import { parseInput } from './parse-input.js';
import { ProducerBatch, type BatchResult } from './producer-batch.js';
import { ProducerKeyGuard } from './producer-key.guard.js';
import {
  ProducerRegistrations,
  type RunRegistration,
  type ThreadRegistration,
} from './producer-registrations.js';
import { idempotencyKeyOf, producerIdOf } from './producer-request.js';
import type { LocalRateLimiter } from '../../limits/local-rate-limiter.js';
import { PRODUCER_REQUEST_LIMITER } from '../../thread-relay.constants.js';
import {
  batchBody,
  deliveryQuery,
  eventBody,
  registerRunBody,
  registerThreadBody,
  userEventBody,
} from './producer.schemas.js';

/**
 * The HTTP producer API: what an in-process producer does with `ThreadRegistryService` and
 * `DeliveryService`, for workers in any language. Each route takes its rate-limit token
 * before reading the body, so malformed floods are limited like good ones.
 */
@Controller('v1')
@UseGuards(ProducerKeyGuard)
@UseFilters(RelayErrorFilter)
export class ProducerController {
  constructor(
    private readonly registrations: ProducerRegistrations,
    private readonly delivery: DeliveryService,
    private readonly batch: ProducerBatch,
    private readonly deliveryWait: DeliveryWait,
    @Inject(PRODUCER_REQUEST_LIMITER) private readonly limiter: LocalRateLimiter,
  ) {}

  @Put('threads/:threadId')
  @HttpCode(200)
  registerThread(
    @Req() request: Request,
    @Param('threadId') threadId: string,
    @Body() body: unknown,
  ): Promise<ThreadRegistration> {
    this.limiter.take(producerIdOf(request));
    const tid = assertValidId(threadId, 'threadId');
    const input = parseInput(registerThreadBody, body, 'request body');
    const ownerId = assertValidId(input.ownerId, 'ownerId');
    return this.registrations.registerThread(tid, ownerId, input.metadata);
  }

  @Put('runs/:runId')
  @HttpCode(200)
  registerRun(
    @Req() request: Request,
    @Param('runId') runId: string,
    @Body() body: unknown,
  ): Promise<RunRegistration> {
    this.limiter.take(producerIdOf(request));
    const rid = assertValidId(runId, 'runId');
    const input = parseInput(registerRunBody, body, 'request body');
    return this.registrations.registerRun(rid, input.threadId);
  }

  /** 201 with the receipt; a repeated idempotency key 200 with the first send's receipt. */
  @Post('threads/:threadOrRunId/events')
  async send(
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
    @Param('threadOrRunId') id: string,
    @Body() body: unknown,
  ): Promise<DeliveryReceipt> {
    this.limiter.take(producerIdOf(request));
    const target = assertValidId(id, 'threadOrRunId');
    const input = parseInput(eventBody, body, 'request body');
    const idempotencyKey = idempotencyKeyOf(request, input.idempotencyKey);
    const receipt = await this.delivery.sendToThread(target, input.type, input.payload, {
      ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
    });
    if (receipt.duplicate) response.status(200);
    return receipt;
  }

  @Post('events')
  @HttpCode(200)
  async sendBatch(
    @Req() request: Request,
    @Body() body: unknown,
  ): Promise<{ results: BatchResult[] }> {
    const events = (body as { events?: unknown } | undefined)?.events;
    this.limiter.take(producerIdOf(request), Array.isArray(events) ? events.length : 1);
    const input = parseInput(batchBody, body, 'request body');
    return { results: await this.batch.send(input.events) };
  }

  @Get('threads/:threadId/delivery')
  deliveryStatus(
    @Req() request: Request,
    @Param('threadId') threadId: string,
    @Query() query: unknown,
  ): Promise<DeliveryStatus> {
    this.limiter.take(producerIdOf(request));
    const tid = assertValidId(threadId, 'threadId');
    const input = parseInput(deliveryQuery, query, 'query');
    return this.deliveryWait.wait(tid, Number(input.seq), Number(input.waitMs ?? 0));
  }

  /** Live only, to every connection of the user; nothing is stored, so nothing to wait for. */
  @Post('users/:userId/events')
  @HttpCode(202)
  async sendToUser(
    @Req() request: Request,
    @Param('userId') userId: string,
    @Body() body: unknown,
  ): Promise<{ messageId: string }> {
    this.limiter.take(producerIdOf(request));
    const uid = assertValidId(userId, 'userId');
    const input = parseInput(userEventBody, body, 'request body');
    const { messageId } = await this.delivery.sendToUser(uid, input.type, input.payload);
    return { messageId };
  }
}
