/** Most keys remembered; the oldest are forgotten first (a forgotten key is simply due again). */
const MAX_KEYS = 50_000;

/**
 * Says when a key is due for another write: at most once per `everyMs` per key. Used to
 * renew thread leases on every use without a store write on every use.
 */
export class TouchThrottle {
  private readonly next = new Map<string, number>();

  constructor(private readonly everyMs: number) {}

  /** True (and the period restarts) when the key was not written within the period. */
  due(key: string, now = Date.now()): boolean {
    const at = this.next.get(key);
    if (at !== undefined && at > now) return false;
    this.next.delete(key);
    if (this.next.size >= MAX_KEYS) {
      const oldest = this.next.keys().next();
      if (!oldest.done) this.next.delete(oldest.value);
    }
    this.next.set(key, now + this.everyMs);
    return true;
  }

  /** Makes the key due again (its write failed). */
  forget(key: string): void {
    this.next.delete(key);
  }
}
