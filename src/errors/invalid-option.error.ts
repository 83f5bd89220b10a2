import { RelayError } from './relay-error.js';

/** Raised at startup: the module refuses to boot with an option it cannot honour. */
export class InvalidOptionError extends RelayError {
  constructor(
    readonly option: string,
    reason: string,
  ) {
    super('INVALID_OPTION', `thread-relay option "${option}" ${reason}`);
  }
}
