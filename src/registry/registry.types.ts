import type { ThreadRecord } from '../thread-record.js';

export interface RunRecord {
  runId: string;
  threadId: string;
}

export interface ConnectionRecord {
  connectionId: string;
  userId: string;
  instanceId: string;
  transport: string;
  connectedAt: number;
  lastSeenAt: number;
  threads: string[];
}

/** One page of a listing; `nextCursor` is `null` on the last page. Cursors are opaque. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** How an auto-registration is bounded: it expires when unused and counts against the owner's cap. */
export interface ThreadLease {
  /** The thread expires this long after its last use (claim, touch). */
  ttlSeconds: number;
  /** Most live auto-registered threads one user may own. */
  maxPerUser: number;
}

export type ClaimResult =
  /** `created`: this call registered it; `existing`: it was registered already (by anyone). */
  | { outcome: 'created' | 'existing'; record: ThreadRecord }
  /** The id is a registered run (of `threadId`): ids are threads or runs, never both. */
  | { outcome: 'run_id'; threadId: string }
  /** A leased claim when the owner already has `limit` live auto-registered threads. */
  | { outcome: 'limit'; limit: number };

export type RunClaim =
  /** The run maps to `threadId` after the call (an earlier mapping wins). */
  | { outcome: 'mapped'; threadId: string }
  /** The run id is a registered thread id. */
  | { outcome: 'thread_id' };

/** What an id names in the registry, read in one step. */
export type IdLookup = { kind: 'thread' } | { kind: 'run'; threadId: string } | null;

export interface ConnectionLimits {
  /** Most connections one user may hold at once, over every instance; absent = no cap. */
  maxPerUser?: number;
}
