import { RelayError } from './relay-error.js';

/** The event payload is not JSON-serialisable or exceeds `maxEventBytes`; nothing was stored. */
export class InvalidPayloadError extends RelayError {
  constructor(
    readonly code: 'PAYLOAD_NOT_JSON' | 'PAYLOAD_TOO_LARGE' | 'INVALID_EVENT_TYPE',
    message: string,
  ) {
    super(message);
  }

  get status(): number {
    return this.code === 'PAYLOAD_TOO_LARGE' ? 413 : 400;
  }
}
