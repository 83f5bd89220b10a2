import type { HistoryPage, ThreadEvent } from '../protocol.js';
import { ThreadRelayClientError } from './client-error.js';
import type { RelayRestApi } from './relay-rest-api.js';

/** A thread's whole retained log, in one epoch, as a reset reloads it. */
export interface LogSnapshot {
  epoch: string;
  /** The log's head as last reported, possibly beyond `lastSeq` if it grew meanwhile. */
  headSeq: number;
  /** Where the reloaded history ends. */
  lastSeq: number;
  events: ThreadEvent[];
}

/** A log replaced again and again while it is being read is a server problem, not a race. */
const MAX_RELOADS = 5;

/** Reads one thread's log over REST: a page after a seq, or the whole of it for a reset. */
export class ThreadLogReader {
  constructor(
    private readonly threadId: string,
    private readonly rest: RelayRestApi,
    private readonly pageSize: number,
  ) {}

  /**
   * One page of the log after `after`. Reads never register a thread, so one that nobody
   * has joined over a socket or written to yet answers `THREAD_NOT_FOUND`: it has no log
   * yet, which is an empty page; it gets one when a message is posted to it.
   */
  async page(after: number): Promise<HistoryPage> {
    try {
      return await this.rest.history(this.threadId, after, this.pageSize);
    } catch (error) {
      if (!isNoLogYet(error)) throw error;
      return { threadId: this.threadId, epoch: '', headSeq: 0, messages: [] };
    }
  }

  /** The whole retained log, in one epoch. */
  async reload(): Promise<LogSnapshot> {
    for (let reload = 0; reload < MAX_RELOADS; reload += 1) {
      const first = await this.page(0);
      const events: ThreadEvent[] = [];
      let page = first;
      let after = 0;
      for (;;) {
        const before = after;
        for (const message of page.messages) {
          if (message.seq > after && message.epoch === first.epoch) {
            events.push(message);
            after = message.seq;
          }
        }
        // A page may hold fewer than pageSize events (the server also ends pages by bytes):
        // only the head, or a page that brought nothing new, ends the reload.
        if (after >= first.headSeq || after === before) break;
        page = await this.page(after);
        if (page.epoch !== first.epoch) break;
      }
      if (page.epoch !== first.epoch) continue;
      const headSeq = Math.max(first.headSeq, page.headSeq);
      return { epoch: first.epoch, headSeq, lastSeq: Math.max(first.headSeq, after), events };
    }
    throw new ThreadRelayClientError(
      'BAD_RESPONSE',
      `thread ${this.threadId}: the log kept changing epoch while being reloaded`,
      { threadId: this.threadId, retryable: true },
    );
  }
}

function isNoLogYet(error: unknown): boolean {
  return (
    error instanceof ThreadRelayClientError &&
    error.code === 'THREAD_NOT_FOUND' &&
    error.status === 404
  );
}
