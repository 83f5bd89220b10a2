import type { Request } from 'express';
import { BadRequestError } from '../../errors/bad-request.error.js';
import { assertValidId } from '../../ids.js';

/** The key id the guard authenticated each request with; gone with the request. */
const producers = new WeakMap<Request, string>();

export function setProducerId(request: Request, producerId: string): void {
  producers.set(request, producerId);
}

/** The authenticated producer; only reachable behind `ProducerKeyGuard`. */
export function producerIdOf(request: Request): string {
  const producerId = producers.get(request);
  // A route without the guard would be a bug, not a client's fault.
  if (producerId === undefined) throw new Error('producer route reached without ProducerKeyGuard');
  return producerId;
}

/**
 * The idempotency key of a send: the `Idempotency-Key` header or the body's
 * `idempotencyKey`. Both may be given if they agree; two different keys are a client bug
 * that would otherwise silently pick one.
 */
export function idempotencyKeyOf(
  request: Request,
  bodyKey: string | undefined,
): string | undefined {
  const header = request.headers['idempotency-key'];
  if (header === undefined) return bodyKey;
  const headerKey = assertValidId(header, 'Idempotency-Key header');
  if (bodyKey !== undefined && bodyKey !== headerKey) {
    throw new BadRequestError(
      'Idempotency-Key header and body idempotencyKey differ; send one, or the same in both',
    );
  }
  return headerKey;
}
