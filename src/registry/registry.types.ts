export type ThreadMetadata = Record<string, string | number | boolean | null>;

export interface ThreadRecord {
  threadId: string;
  ownerId: string;
  createdAt: number;
  metadata: ThreadMetadata;
}

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

export interface ClaimResult {
  /** true when this call created the thread, false when it existed already. */
  created: boolean;
  /** The stored record, whoever created it. */
  record: ThreadRecord;
}
