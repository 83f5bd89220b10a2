import { parseRunId } from '../ids.js';
import type { RelayLogger } from '../thread-relay.logger.js';
import type { RegistryStore } from './registry-store.interface.js';

export interface Resolution {
  threadId: string;
  /** Set when the id was a run id (registered or of the conventional form). */
  runId?: string;
}

/**
 * Positive resolutions are cached briefly. An id never changes meaning while it is
 * registered (a thread id is never a run id, a run maps once), so a hit is safe for as
 * long as the id stays registered; an unregistered id is forgotten here at once and on
 * other instances within the TTL.
 */
const RESOLVE_CACHE_MAX = 10_000;
const RESOLVE_CACHE_TTL_MS = 30_000;

/** Which thread a (valid) thread or run id names, with the cache in front of the store. */
export class IdResolver {
  private readonly resolved = new Map<string, { value: Resolution; until: number }>();

  constructor(
    private readonly store: RegistryStore,
    private readonly log: RelayLogger,
  ) {}

  /** The resolution of `id` if it is cached and fresh, without a store read. */
  cached(id: string): Resolution | undefined {
    const cached = this.resolved.get(id);
    return cached && cached.until > Date.now() ? cached.value : undefined;
  }

  /** Registered run, then thread, then the run form's thread part; null: none of them. */
  async resolve(id: string): Promise<Resolution | null> {
    const cached = this.cached(id);
    if (cached) return cached;
    const resolution = await this.lookup(id);
    if (resolution) this.remember(id, resolution);
    return resolution;
  }

  /** Drops cached resolutions to or of a thread that is gone. */
  forget(threadId: string): void {
    for (const [key, entry] of this.resolved) {
      if (entry.value.threadId === threadId || key === threadId) this.resolved.delete(key);
    }
  }

  forgetId(id: string): void {
    this.resolved.delete(id);
  }

  private async lookup(id: string): Promise<Resolution | null> {
    const found = await this.store.lookupId(id);
    if (found?.kind === 'run') return { threadId: found.threadId, runId: id };
    if (found?.kind === 'thread') return { threadId: id };
    const parsed = parseRunId(id);
    if (!parsed || !(await this.store.getThread(parsed.threadId))) return null;
    // Recorded so operators see it under its thread; a concurrent mapping wins.
    const claim = await this.store.putRun(id, parsed.threadId);
    // A run-form id is never a thread (registration refuses them), so this is a mapping.
    const threadId = claim.outcome === 'mapped' ? claim.threadId : parsed.threadId;
    this.log.info({ msg: 'run registered', runId: id, threadId, via: 'run id format' });
    return { threadId, runId: id };
  }

  private remember(id: string, value: Resolution): void {
    if (this.resolved.size >= RESOLVE_CACHE_MAX) {
      const oldest = this.resolved.keys().next();
      if (!oldest.done) this.resolved.delete(oldest.value);
    }
    this.resolved.set(id, { value, until: Date.now() + RESOLVE_CACHE_TTL_MS });
  }
}
