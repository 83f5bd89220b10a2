import { RelayError } from './relay-error.js';

/** The event payload is not JSON-serialisable or exceeds `maxEventBytes`; nothing was stored. */
export class InvalidPayloadError extends RelayError {
  constructor(
    code: 'PAYLOAD_NOT_JSON' | 'PAYLOAD_TOO_LARGE' | 'INVALID_EVENT_TYPE',
    message: string,
  ) {
    super(code, message);
  }
}
