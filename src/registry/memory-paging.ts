import { BadRequestError } from '../errors/bad-request.error.js';
import type { Page } from './registry.types.js';

/** Paging of the in-process registry's listings, and its answers as promises. */

/**
 * The cursor is the `order` of the last item returned, not an offset, so removing items
 * between pages never makes a later page skip one that is still there. Maps iterate in
 * insertion order and `order` only grows, so the scan resumes where it stopped.
 */
export function page<S extends { order: number }, T>(
  source: Map<string, S>,
  cursor: string | null,
  limit: number,
  project: (stored: S) => T,
): Page<T> {
  const after = parseCursor(cursor);
  const size = Math.max(1, Math.floor(limit));
  const items: T[] = [];
  let last = after;
  let more = false;
  for (const stored of source.values()) {
    if (stored.order <= after) continue;
    if (items.length === size) {
      more = true;
      break;
    }
    items.push(project(stored));
    last = stored.order;
  }
  return { items, nextCursor: more ? String(last) : null };
}

function parseCursor(cursor: string | null): number {
  if (cursor === null || cursor === '0') return 0;
  if (!/^\d{1,15}$/.test(cursor))
    throw new BadRequestError(`Invalid page cursor ${JSON.stringify(cursor.slice(0, 40))}`);
  return Number(cursor);
}

export function done<T>(value: T): Promise<T> {
  return Promise.resolve(value);
}

/** Turns a throw into a rejection, as an async store would report it. */
export function settle<T>(compute: () => T): Promise<T> {
  return new Promise((resolve) => resolve(compute()));
}
