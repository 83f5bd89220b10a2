import {
  Controller,
  Get,
  HttpCode,
  Post,
  Put,
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
import { ProducerBatch, type BatchResult } from './producer-batch.js';
import { ProducerKeyGuard, ChargePerEvent } from './producer-key.guard.js';
import {
  ProducerRegistrations,
  type RunRegistration,
  type ThreadRegistration,
} from './producer-registrations.js';
import { idempotencyKeyOf } from './producer-request.js';
import { IdParam, ValidBody, ValidQuery } from '../validation.pipes.js';
import {
  batchBody,
  deliveryQuery,
  eventBody,
  registerRunBody,
  registerThreadBody,
  userEventBody,
  type BatchBody,
  type DeliveryQuery,
  type EventBody,
  type RegisterRunBody,
  type RegisterThreadBody,
  type UserEventBody,
} from './producer.schemas.js';

/**
 * The HTTP producer API: what an in-process producer does with `ThreadRegistryService` and
 * `DeliveryService`, for workers in any language. The guard takes each request's rate-limit
 * token before the body is read, so malformed floods are limited like good ones.
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
  ) {}

  @Put('threads/:threadId')
  registerThread(
    @IdParam('threadId') threadId: string,
    @ValidBody(registerThreadBody) input: RegisterThreadBody,
  ): Promise<ThreadRegistration> {
    const ownerId = assertValidId(input.ownerId, 'ownerId');
    return this.registrations.registerThread(threadId, ownerId, input.metadata);
  }

  @Put('runs/:runId')
  registerRun(
    @IdParam('runId') runId: string,
    @ValidBody(registerRunBody) input: RegisterRunBody,
  ): Promise<RunRegistration> {
    return this.registrations.registerRun(runId, input.threadId);
  }

  /** 201 with the receipt; a repeated idempotency key 200 with the first send's receipt. */
  @Post('threads/:threadOrRunId/events')
  async send(
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
    @IdParam('threadOrRunId') target: string,
    @ValidBody(eventBody) input: EventBody,
  ): Promise<DeliveryReceipt> {
    const idempotencyKey = idempotencyKeyOf(request, input.idempotencyKey);
    const receipt = await this.delivery.sendToThread(target, input.type, input.payload, {
      ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
    });
    if (receipt.duplicate) response.status(200);
    return receipt;
  }

  @Post('events')
  @HttpCode(200)
  @ChargePerEvent()
  async sendBatch(@ValidBody(batchBody) input: BatchBody): Promise<{ results: BatchResult[] }> {
    return { results: await this.batch.send(input.events) };
  }

  @Get('threads/:threadId/delivery')
  deliveryStatus(
    @IdParam('threadId') threadId: string,
    @ValidQuery(deliveryQuery) input: DeliveryQuery,
  ): Promise<DeliveryStatus> {
    return this.deliveryWait.wait(threadId, Number(input.seq), Number(input.waitMs ?? 0));
  }

  /** Live only, to every connection of the user; nothing is stored, so nothing to wait for. */
  @Post('users/:userId/events')
  @HttpCode(202)
  async sendToUser(
    @IdParam('userId') userId: string,
    @ValidBody(userEventBody) input: UserEventBody,
  ): Promise<{ messageId: string }> {
    const { messageId } = await this.delivery.sendToUser(userId, input.type, input.payload);
    return { messageId };
  }
}
