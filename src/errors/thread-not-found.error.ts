import { quoteId, RelayError } from './relay-error.js';

export class ThreadNotFoundError extends RelayError {
  constructor(
    readonly id: string,
    detail?: string,
  ) {
    super(
      'THREAD_NOT_FOUND',
      `No thread found for id ${quoteId(id)}: it is neither a registered thread, a registered run, nor a run id of a registered thread${detail ? ` (${detail})` : ''}`,
    );
  }
}
