import { RelayUnavailableError } from '../errors/relay-unavailable.error.js';
import { isStoreUnreachable } from '../errors/store-unreachable.js';
import { toError } from '../errors/to-error.js';

interface Pending {
  deadline: number;
  what: string;
  reject(error: Error): void;
}

/**
 * Bounds how long store operations may wait for an unreachable backend. The operation is
 * not cancelled: if the backend comes back it may still complete, which is why producers
 * that retry after `RELAY_UNAVAILABLE` should pass an idempotency key.
 *
 * Every send passes through here two or three times, so there is no timer per operation:
 * operations in flight sit in a set, and one sweep, running only while the set is not
 * empty, refuses those past their deadline. A refusal may therefore come up to one sweep
 * period (a twentieth of the timeout, at most 100 ms) after the deadline.
 */
export class AvailabilityDeadlines {
  private readonly pending = new Set<Pending>();
  private readonly sweepMs: number;
  private sweeper: NodeJS.Timeout | null = null;

  constructor(readonly timeoutMs: number) {
    this.sweepMs = Math.min(100, Math.max(5, Math.floor(timeoutMs / 20)));
  }

  within<T>(operation: Promise<T>, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = { deadline: Date.now() + this.timeoutMs, what, reject };
      this.pending.add(entry);
      if (!this.sweeper) this.startSweeping();
      operation.then(
        (value) => {
          if (this.pending.delete(entry)) resolve(value);
        },
        (error: unknown) => {
          if (this.pending.delete(entry)) reject(asUnavailable(error, what));
        },
      );
    });
  }

  private startSweeping(): void {
    this.sweeper = setInterval(() => this.sweep(), this.sweepMs);
    // An operation in flight must not keep the process alive on its own.
    this.sweeper.unref();
  }

  private stopSweeping(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
  }

  private sweep(): void {
    if (this.pending.size === 0) {
      this.stopSweeping();
      return;
    }
    const now = Date.now();
    for (const entry of this.pending) {
      if (entry.deadline > now) continue;
      this.pending.delete(entry);
      entry.reject(
        new RelayUnavailableError(
          `${entry.what}: the relay store did not answer within ${this.timeoutMs} ms (delivery.unavailableTimeoutMs)`,
        ),
      );
    }
  }
}

function asUnavailable(error: unknown, what: string): Error {
  if (error instanceof RelayUnavailableError) return error;
  if (isStoreUnreachable(error)) {
    return new RelayUnavailableError(`${what}: the relay store is unreachable`, { cause: error });
  }
  return toError(error);
}
