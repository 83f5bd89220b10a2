import type { FetchLike } from './relay-rest-api.js';
import type { TimerSet } from './timer-set.js';

/** What the HTTP transports (polling, SSE) send their requests with. */
export interface HttpAccess {
  /** The current token, asked for before each request: it may have been renewed since. */
  token: () => Promise<string>;
  fetch: FetchLike;
  /** The client's timers, so `close()` stops every wait and timeout. */
  timers: TimerSet;
}
