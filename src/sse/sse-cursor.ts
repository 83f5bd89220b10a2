import { BadRequestError } from '../errors/bad-request.error.js';

/** Where a stream resumes: after `seq` of the log `epoch`. */
export interface SseCursor {
  epoch: string;
  seq: number;
}

const CURSOR = /^([0-9a-f]{0,64}):(\d{1,15})$/;

/** An SSE event id, `<epoch>:<seq>`, as `Last-Event-ID` or `?lastEventId=` sends it back. */
export function parseSseCursor(raw: unknown): SseCursor | null {
  if (raw === undefined || raw === '') return null;
  const match = typeof raw === 'string' ? CURSOR.exec(raw) : null;
  if (!match) {
    throw new BadRequestError('Last-Event-ID must be an event id of this stream (<epoch>:<seq>)');
  }
  return { epoch: match[1] ?? '', seq: Number(match[2]) };
}

export function formatSseId(epoch: string, seq: number): string {
  return `${epoch}:${seq}`;
}
