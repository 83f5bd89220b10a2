import { quoteId, RelayError } from './relay-error.js';

export class ThreadOwnershipConflictError extends RelayError {
  constructor(
    readonly threadId: string,
    readonly requestedBy: string,
  ) {
    super(
      'THREAD_OWNERSHIP_CONFLICT',
      `Thread ${quoteId(threadId)} is already owned by another user; ${quoteId(requestedBy)} cannot register it`,
    );
  }
}
