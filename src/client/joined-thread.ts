import type { JoinResult } from '../protocol.js';
import type { Deferred } from './deferred.js';
import type { ThreadStream } from './thread-stream.js';

/** A thread the application joined, whatever carries its events. */
export interface JoinedThread {
  readonly threadId: string;
  readonly stream: ThreadStream;
  readonly joined: Deferred<JoinResult>;
  /** Number of the connection on which the server confirmed the join; 0 when none. */
  joinedOn: number;
  /** Number of the connection a join request is outstanding on; 0 when none. */
  joiningOn: number;
  joinAttempts: number;
}
