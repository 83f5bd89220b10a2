import { BadRequestError } from '../errors/bad-request.error.js';
import { INDEX_BUCKETS } from './redis-keys.js';
import type { ConnectionRecord } from '../registry/registry.types.js';
import type { ThreadMetadata, ThreadRecord } from '../thread-record.js';

/** Turns stored hashes into records, and listing cursors into HSCAN arguments. */

export function toThreadRecord(
  threadId: string,
  hash: Record<string, string>,
): ThreadRecord | null {
  if (hash.ownerId === undefined) return null;
  const record: ThreadRecord = {
    threadId,
    ownerId: hash.ownerId,
    createdAt: Number(hash.createdAt ?? 0) || 0,
    metadata: parseMetadata(hash.metadata),
  };
  if (hash.auto === '1') record.autoRegistered = true;
  return record;
}

export function parseMetadata(text: string | undefined): ThreadMetadata {
  if (text === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return {};
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return {};
  const metadata: ThreadMetadata = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) {
      metadata[key] = value as string | number | boolean | null;
    }
  }
  return metadata;
}

export function toConnectionRecord(
  connectionId: string,
  hash: Record<string, string>,
  threads: string[],
): ConnectionRecord | null {
  if (hash.userId === undefined || hash.instanceId === undefined) return null;
  return {
    connectionId,
    userId: hash.userId,
    instanceId: hash.instanceId,
    transport: hash.transport ?? '',
    connectedAt: Number(hash.connectedAt ?? 0) || 0,
    lastSeenAt: Number(hash.lastSeenAt ?? 0) || 0,
    threads,
  };
}

/** HSCAN cursors are unsigned 64-bit integers; Redis refuses anything larger. */
const MAX_SCAN_CURSOR = 2n ** 64n - 1n;

export function scanCursor(cursor: string | null): string {
  if (cursor === null) return '0';
  if (!/^\d{1,20}$/.test(cursor) || BigInt(cursor) > MAX_SCAN_CURSOR) {
    throw new BadRequestError(`Invalid page cursor ${JSON.stringify(cursor.slice(0, 40))}`);
  }
  return cursor;
}

/** `<bucket>:<HSCAN cursor>` of a bucketed index (see `redis-keys.ts`); null is the start. */
export function bucketCursor(cursor: string | null): [bucket: number, scan: string] {
  if (cursor === null) return [0, '0'];
  const match = /^(\d{1,2}):(\d{1,20})$/.exec(cursor);
  const bucket = Number(match?.[1]);
  if (!match || bucket >= INDEX_BUCKETS) {
    throw new BadRequestError(`Invalid page cursor ${JSON.stringify(cursor.slice(0, 40))}`);
  }
  return [bucket, scanCursor(match[2] ?? '')];
}

/** HSCAN treats COUNT as a hint: a page may hold a few more or fewer items than `limit`. */
export function scanCount(limit: number): number {
  return Math.max(1, Math.floor(limit));
}
