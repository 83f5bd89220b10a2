import { RateLimitedError } from '../errors/rate-limited.error.js';

/** How long a client refused for a full join queue should wait. */
const RETRY_MS = 250;

/**
 * The joins one connection may have in progress (`limits.concurrentJoinsPerConnection`):
 * a join past them waits its turn instead of being refused, so a client that joins every
 * thread at once after a reconnect is served in order. The wait is bounded too: past
 * `maxWaiting` queued joins a join is refused `RATE_LIMITED`.
 */
export class JoinSlots {
  private inUse = 0;
  private readonly waiting: Array<{ grant(): void; refuse(error: Error): void }> = [];

  constructor(
    private readonly capacity: number,
    private readonly maxWaiting: number,
  ) {}

  get busy(): number {
    return this.inUse;
  }

  /** Resolves with a release function once a slot is free. */
  async acquire(): Promise<() => void> {
    if (this.inUse < this.capacity) {
      this.inUse += 1;
      return this.releaser();
    }
    if (this.waiting.length >= this.maxWaiting) {
      throw new RateLimitedError(
        'limits.concurrentJoinsPerConnection',
        RETRY_MS,
        `${this.inUse} joins of this connection are in progress and ${this.waiting.length} wait; retry in ${RETRY_MS} ms (limits.concurrentJoinsPerConnection)`,
      );
    }
    await new Promise<void>((grant, refuse) => this.waiting.push({ grant, refuse }));
    return this.releaser();
  }

  /** The connection is gone: queued joins give up. */
  close(): void {
    for (const waiter of this.waiting.splice(0)) {
      waiter.refuse(new Error('the connection closed while the join waited'));
    }
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      // The slot passes straight to the next join in line.
      if (next) next.grant();
      else this.inUse -= 1;
    };
  }
}
