import { BadRequestError } from '../errors/bad-request.error.js';
import { InvalidIdError } from '../errors/invalid-id.error.js';
import { assertValidId, isRunFormId } from '../ids.js';
import type { RelayLogger } from '../thread-relay.logger.js';

/**
 * Ids as the registry's callers hand them in, checked before any store sees them; a refusal
 * is logged with what the call was about (`context`), since the caller may not log it.
 */
export class RegistryInput {
  constructor(private readonly log: RelayLogger) {}

  id(value: unknown, field: string, context: Record<string, string> = {}): string {
    try {
      return assertValidId(value, field);
    } catch (error) {
      if (error instanceof InvalidIdError) {
        this.log.warn({ msg: 'registry input refused', field, code: error.code, ...context });
      }
      throw error;
    }
  }

  /** A valid id that is not of the run form, which is reserved for runs. */
  threadId(value: unknown, context: Record<string, string> = {}): string {
    const tid = this.id(value, 'threadId', context);
    if (isRunFormId(tid)) {
      this.log.warn({
        msg: 'registry input refused',
        field: 'threadId',
        code: 'BAD_REQUEST',
        ...context,
      });
      throw new BadRequestError(
        `threadId ${JSON.stringify(tid.slice(0, 120))} has the run form <thread>_run_<millis>_<hex>, which is reserved for run ids`,
      );
    }
    return tid;
  }
}
