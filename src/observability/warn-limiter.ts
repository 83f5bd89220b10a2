/** How often, at most, one kind of refusal is logged for one source. */
const WINDOW_MS = 60_000;
/** Sources remembered at most; the oldest are forgotten first. */
const MAX_KINDS = 10_000;

/**
 * Keeps a misbehaving client from filling the log: one warning per kind (a connection's
 * refusal code, an address's failed logins, ...) per minute, the next one saying how many
 * were left out in between.
 */
export class WarnLimiter {
  private readonly windows = new Map<string, { until: number; suppressed: number }>();

  /** The number of lines suppressed since the last one, when this one should be logged; else null. */
  admit(kind: string, now = Date.now()): number | null {
    const window = this.windows.get(kind);
    if (window && window.until > now) {
      window.suppressed += 1;
      return null;
    }
    const suppressed = window?.suppressed ?? 0;
    this.windows.delete(kind);
    if (this.windows.size >= MAX_KINDS) {
      const oldest = this.windows.keys().next();
      if (!oldest.done) this.windows.delete(oldest.value);
    }
    this.windows.set(kind, { until: now + WINDOW_MS, suppressed: 0 });
    return suppressed;
  }
}
