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
