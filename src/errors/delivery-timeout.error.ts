import { quoteId, RelayError } from './relay-error.js';

export class DeliveryTimeoutError extends RelayError {
  readonly code = 'DELIVERY_TIMEOUT';
  readonly status = 504;

  constructor(
    readonly threadId: string,
    readonly seq: number,
    readonly timeoutMs: number,
    readonly deliveredSeq: number,
  ) {
    super(
      `Thread ${quoteId(threadId)} seq ${seq} was not acknowledged within ${timeoutMs} ms (delivered cursor is ${deliveredSeq})`,
    );
  }
}
