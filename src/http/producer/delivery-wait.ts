import { Inject, Injectable } from '@nestjs/common';
import { DeliveryService } from '../../delivery/delivery.service.js';
import { DeliveryTimeoutError } from '../../errors/delivery-timeout.error.js';
import { RelayUnavailableError } from '../../errors/relay-unavailable.error.js';
import { type ResolvedRelayOptions } from '../../thread-relay.options.js';
import { RELAY_OPTIONS } from '../../thread-relay.constants.js';
import { ProducerRegistrations } from './producer-registrations.js';

export interface DeliveryStatus {
  threadId: string;
  seq: number;
  delivered: boolean;
  /** The owner's delivered cursor: `>= seq` when delivered, else the furthest seen. */
  cursor: number;
}

/**
 * `GET /v1/threads/:id/delivery`: a long poll on the owner's acknowledgement. Not being
 * delivered yet is an answer (`delivered: false`), not an error: the producer decides
 * whether to wait again.
 */
@Injectable()
export class DeliveryWait {
  private readonly unavailableMs: number;

  constructor(
    private readonly delivery: DeliveryService,
    private readonly registrations: ProducerRegistrations,
    @Inject(RELAY_OPTIONS) options: ResolvedRelayOptions,
  ) {
    this.unavailableMs = options.delivery.unavailableTimeoutMs;
  }

  async wait(id: string, seq: number, waitMs: number): Promise<DeliveryStatus> {
    const threadId = await this.registrations.resolve(id);
    try {
      // The wait reads the store before it listens; an unreachable store must not hold
      // the request past the wait plus the usual bound.
      const cursor = await bounded(
        this.delivery.waitForDelivery(threadId, seq, waitMs),
        waitMs + this.unavailableMs,
      );
      return { threadId, seq, delivered: true, cursor };
    } catch (error) {
      if (error instanceof DeliveryTimeoutError) {
        return { threadId, seq, delivered: false, cursor: error.deliveredSeq };
      }
      throw error;
    }
  }
}

function bounded<T>(operation: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new RelayUnavailableError(
            `delivery wait: the relay store did not answer within ${ms} ms (waitMs + delivery.unavailableTimeoutMs)`,
          ),
        ),
      ms,
    );
  });
  return Promise.race([operation, expired]).finally(() => clearTimeout(timer));
}
