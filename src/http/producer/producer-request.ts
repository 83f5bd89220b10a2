import type { Request } from 'express';
import { BadRequestError } from '../../errors/bad-request.error.js';
import { assertValidId } from '../../ids.js';

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
