import { Injectable, type PipeTransform } from '@nestjs/common';
import { BadRequestError } from '../errors/bad-request.error.js';

const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;

/** One page of a listing: `?limit=&cursor=`, where the cursor is a previous page's `nextCursor`. */
export interface PageArgs {
  limit: number;
  cursor: string | null;
}

/** Reads `?limit=&cursor=` of the debug listings: `@Query(PageArgsPipe) page: PageArgs`. */
@Injectable()
export class PageArgsPipe implements PipeTransform<unknown, PageArgs> {
  transform(query: unknown): PageArgs {
    const { limit, cursor } = (query ?? {}) as Record<string, unknown>;
    let size = DEFAULT_PAGE;
    if (limit !== undefined) {
      if (typeof limit !== 'string' || !/^\d{1,6}$/.test(limit) || Number(limit) < 1) {
        throw new BadRequestError('limit must be a positive integer');
      }
      size = Math.min(Number(limit), MAX_PAGE);
    }
    if (cursor !== undefined && (typeof cursor !== 'string' || cursor.length > 200)) {
      throw new BadRequestError('cursor must be the nextCursor of a previous page');
    }
    return { limit: size, cursor: cursor || null };
  }
}
