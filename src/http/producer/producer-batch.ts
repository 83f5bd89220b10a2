import { Injectable } from '@nestjs/common';
import { DeliveryService } from '../../delivery/delivery.service.js';
import type { DeliveryReceipt } from '../../delivery/delivery.types.js';
import { RelayUnavailableError } from '../../errors/relay-unavailable.error.js';
import { RelayError } from '../../errors/relay-error.js';
import { toErrorBody } from '../../errors/error-answer.js';
import type { ErrorBody } from '../../protocol.js';
import { forEachLimited } from './for-each-limited.js';
import { parseInput } from './parse-input.js';
import { batchItem, type BatchItem } from './producer.schemas.js';
import { ProducerRegistrations } from './producer-registrations.js';

export type BatchResult = DeliveryReceipt | { ok: false; error: ErrorBody };

/**
 * Threads of one batch sent at once. Small: a batch is one producer's request, and its
 * threads' appends should not crowd out everyone else's on the store.
 */
const THREADS_AT_ONCE = 8;

interface Pending {
  index: number;
  item: BatchItem;
}

/**
 * `POST /v1/events`. Events are grouped by the thread their target resolves to (a thread
 * id and a run of it are one thread), each thread's events are sent one after the other
 * in input order, and threads run side by side. Every event gets its own result: a bad
 * one fails alone. Two failures end more than their own event, so a producer can retry
 * the rest in order: an unexpected failure skips the rest of that thread's events, and
 * RELAY_UNAVAILABLE skips every event not yet sent (each would only wait out the bound).
 */
@Injectable()
export class ProducerBatch {
  constructor(
    private readonly delivery: DeliveryService,
    private readonly registrations: ProducerRegistrations,
  ) {}

  async send(events: unknown[]): Promise<BatchResult[]> {
    const results: BatchResult[] = [];
    let unavailable: RelayUnavailableError | null = null;
    const fail = (index: number, error: unknown) => {
      results[index] = { ok: false, error: toErrorBody(error) };
      if (error instanceof RelayUnavailableError) unavailable ??= error;
    };

    const pending: Pending[] = [];
    events.forEach((event, index) => {
      try {
        pending.push({ index, item: parseInput(batchItem, event, `events[${index}]`) });
      } catch (error) {
        fail(index, error);
      }
    });

    const threadOf = new Map<string, { threadId: string } | { error: unknown }>();
    const targets = [...new Set(pending.map((p) => p.item.target))];
    await forEachLimited(targets, THREADS_AT_ONCE, async (target) => {
      if (unavailable) {
        threadOf.set(target, { error: unavailable });
        return;
      }
      try {
        threadOf.set(target, { threadId: await this.registrations.resolve(target) });
      } catch (error) {
        if (error instanceof RelayUnavailableError) unavailable ??= error;
        threadOf.set(target, { error });
      }
    });

    const byThread = new Map<string, Pending[]>();
    for (const entry of pending) {
      const resolved = threadOf.get(entry.item.target);
      if (!resolved || 'error' in resolved) {
        fail(entry.index, resolved?.error);
        continue;
      }
      const { threadId } = resolved;
      const group = byThread.get(threadId) ?? [];
      group.push(entry);
      byThread.set(threadId, group);
    }

    await forEachLimited([...byThread.values()], THREADS_AT_ONCE, async (group) => {
      let stop: unknown = null;
      for (const { index, item } of group) {
        const skipped = unavailable ?? stop;
        if (skipped !== null) {
          results[index] = { ok: false, error: notSent(skipped) };
          continue;
        }
        try {
          results[index] = await this.delivery.sendToThread(item.target, item.type, item.payload, {
            ...(item.idempotencyKey === undefined ? {} : { idempotencyKey: item.idempotencyKey }),
          });
        } catch (error) {
          fail(index, error);
          if (!refusesOnlyItself(error)) stop = error;
        }
      }
    });
    return results;
  }
}

/** Errors about the event itself (its type, payload, key); the thread's next events may go. */
function refusesOnlyItself(error: unknown): boolean {
  return (
    error instanceof RelayError &&
    [
      'BAD_REQUEST',
      'INVALID_ID',
      'INVALID_EVENT_TYPE',
      'PAYLOAD_NOT_JSON',
      'PAYLOAD_TOO_LARGE',
    ].includes(error.code)
  );
}

/** The result of an event skipped after an earlier failure: that failure's code, said so. */
function notSent(cause: unknown): ErrorBody {
  const { code } = toErrorBody(cause);
  return {
    code,
    message: `not sent: an earlier event of this batch failed with ${code}; send this one again (same idempotency key) once that is resolved`,
  };
}
