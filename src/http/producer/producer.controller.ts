import {
  Body,
  Controller,
  Get,
  HttpCode,
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
import { ProducerBatch, type BatchResult } from './producer-batch.js';
import { ProducerKeyGuard } from './producer-key.guard.js';
import {
  ProducerRegistrations,
  type RunRegistration,
  type ThreadRegistration,
} from './producer-registrations.js';
import { idempotencyKeyOf } from './producer-request.js';
import { InputPipe, ValidIdPipe } from '../validation.pipes.js';
import { ChargePerEvent } from './producer-key.guard.js';
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
  @HttpCode(200)
  registerThread(
    @Param('threadId', new ValidIdPipe('threadId')) threadId: string,
    @Body(new InputPipe(registerThreadBody, 'request body')) input: RegisterThreadBody,
  ): Promise<ThreadRegistration> {
    const ownerId = assertValidId(input.ownerId, 'ownerId');
    return this.registrations.registerThread(threadId, ownerId, input.metadata);
  }

  @Put('runs/:runId')
  @HttpCode(200)
  registerRun(
    @Param('runId', new ValidIdPipe('runId')) runId: string,
    @Body(new InputPipe(registerRunBody, 'request body')) input: RegisterRunBody,
  ): Promise<RunRegistration> {
    return this.registrations.registerRun(runId, input.threadId);
  }

  /** 201 with the receipt; a repeated idempotency key 200 with the first send's receipt. */
  @Post('threads/:threadOrRunId/events')
  async send(
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
    @Param('threadOrRunId', new ValidIdPipe('threadOrRunId')) target: string,
    @Body(new InputPipe(eventBody, 'request body')) input: EventBody,
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
  async sendBatch(
    @Body(new InputPipe(batchBody, 'request body')) input: BatchBody,
  ): Promise<{ results: BatchResult[] }> {
    return { results: await this.batch.send(input.events) };
  }

  @Get('threads/:threadId/delivery')
  deliveryStatus(
    @Param('threadId', new ValidIdPipe('threadId')) threadId: string,
    @Query(new InputPipe(deliveryQuery, 'query')) input: DeliveryQuery,
  ): Promise<DeliveryStatus> {
    return this.deliveryWait.wait(threadId, Number(input.seq), Number(input.waitMs ?? 0));
  }

  /** Live only, to every connection of the user; nothing is stored, so nothing to wait for. */
  @Post('users/:userId/events')
  @HttpCode(202)
  async sendToUser(
    @Param('userId', new ValidIdPipe('userId')) userId: string,
    @Body(new InputPipe(userEventBody, 'request body')) input: UserEventBody,
  ): Promise<{ messageId: string }> {
    const { messageId } = await this.delivery.sendToUser(userId, input.type, input.payload);
    return { messageId };
  }
}
