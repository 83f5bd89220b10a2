import { quoteId, RelayError } from './relay-error.js';

export class DeliveryTimeoutError extends RelayError {
  constructor(
    readonly threadId: string,
    readonly seq: number,
    readonly timeoutMs: number,
    readonly deliveredSeq: number,
  ) {
    super(
      'DELIVERY_TIMEOUT',
      `Thread ${quoteId(threadId)} seq ${seq} was not acknowledged within ${timeoutMs} ms (delivered cursor is ${deliveredSeq})`,
    );
  }
}
