import { quoteId, RelayError } from './relay-error.js';

export class RunConflictError extends RelayError {
  readonly code = 'RUN_CONFLICT';

  constructor(
    readonly runId: string,
    readonly existingThreadId: string,
    readonly requestedThreadId: string,
  ) {
    super(
      `Run ${quoteId(runId)} is already registered to thread ${quoteId(existingThreadId)}, not ${quoteId(requestedThreadId)}`,
    );
  }
}
