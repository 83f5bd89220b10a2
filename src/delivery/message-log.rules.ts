import { randomFillSync } from 'node:crypto';
import type { CursorCheck, LogState } from './message-log.interface.js';

/** Rules both message logs (memory and Redis) share, so they answer alike. */

/** Random bytes for epochs, filled 512 epochs at a time: the Redis log draws one per append. */
const EPOCH_BYTES = 8;
const epochPool = Buffer.alloc(EPOCH_BYTES * 512);
let epochOffset = epochPool.length;

export function newEpoch(): string {
  if (epochOffset + EPOCH_BYTES > epochPool.length) {
    randomFillSync(epochPool);
    epochOffset = 0;
  }
  const epoch = epochPool.toString('hex', epochOffset, epochOffset + EPOCH_BYTES);
  epochOffset += EPOCH_BYTES;
  return epoch;
}

/** Rejects what would make a slice ambiguous (NaN, Infinity, non-numbers) before any lookup. */
export function assertReadWindow(afterSeq: number, limit: number): void {
  if (!Number.isSafeInteger(afterSeq) || afterSeq < 0) {
    throw new RangeError(`afterSeq must be a non-negative safe integer, got ${String(afterSeq)}`);
  }
  if (!Number.isSafeInteger(limit) || limit < 0) {
    throw new RangeError(`limit must be a non-negative safe integer, got ${String(limit)}`);
  }
}

/** The rule both logs share for `thread:reset`. */
export function checkCursor(
  state: LogState,
  afterSeq: number,
  epoch: string | undefined,
): CursorCheck {
  if (epoch !== undefined && epoch !== state.epoch) return { ok: false, reason: 'epoch_mismatch' };
  if (afterSeq > state.headSeq) return { ok: false, reason: 'ahead_of_log' };
  if (afterSeq < state.firstSeq - 1) return { ok: false, reason: 'trimmed' };
  return { ok: true };
}
