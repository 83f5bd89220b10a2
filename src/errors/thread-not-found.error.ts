import { quoteId, RelayError } from './relay-error.js';

export class ThreadNotFoundError extends RelayError {
  readonly code = 'THREAD_NOT_FOUND';
  readonly status = 404;

  constructor(
    readonly id: string,
    detail?: string,
  ) {
    super(
      `No thread found for id ${quoteId(id)}: it is neither a registered thread, a registered run, nor a run id of a registered thread${detail ? ` (${detail})` : ''}`,
    );
  }
}
