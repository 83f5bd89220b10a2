import { quoteId, RelayError } from './relay-error.js';

export class ForbiddenError extends RelayError {
  readonly code = 'FORBIDDEN';
  readonly status = 403;

  constructor(
    readonly userId: string,
    readonly threadId: string,
  ) {
    super(`User ${quoteId(userId)} may not access thread ${quoteId(threadId)}`);
  }
}
