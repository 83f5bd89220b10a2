import { quoteId, RelayError } from './relay-error.js';

export class ForbiddenError extends RelayError {
  constructor(
    readonly userId: string,
    readonly threadId: string,
  ) {
    super('FORBIDDEN', `User ${quoteId(userId)} may not access thread ${quoteId(threadId)}`);
  }
}
