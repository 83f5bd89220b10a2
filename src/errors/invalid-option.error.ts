import { RelayError } from './relay-error.js';

/** Raised at startup: the module refuses to boot with an option it cannot honour. */
export class InvalidOptionError extends RelayError {
  readonly code = 'INVALID_OPTION';
  readonly status = 500;

  constructor(
    readonly option: string,
    reason: string,
  ) {
    super(`thread-relay option "${option}" ${reason}`);
  }
}
