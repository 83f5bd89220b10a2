import { quoteId, RelayError } from './relay-error.js';

export class ThreadOwnershipConflictError extends RelayError {
  readonly code = 'THREAD_OWNERSHIP_CONFLICT';
  readonly status = 409;

  constructor(
    readonly threadId: string,
    readonly requestedBy: string,
  ) {
    super(
      `Thread ${quoteId(threadId)} is already owned by another user; ${quoteId(requestedBy)} cannot register it`,
    );
  }
}
