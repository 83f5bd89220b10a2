import { quoteId, RelayError } from './relay-error.js';

/** An id that would mean two things: a run mapped twice, or a run and a thread sharing an id. */
export class RunConflictError extends RelayError {
  private constructor(message: string) {
    super('RUN_CONFLICT', message);
  }

  static alreadyMapped(runId: string, existingThreadId: string, requestedThreadId: string) {
    return new RunConflictError(
      `Run ${quoteId(runId)} is already registered to thread ${quoteId(existingThreadId)}, not ${quoteId(requestedThreadId)}`,
    );
  }

  static idIsThread(runId: string) {
    return new RunConflictError(
      `Run id ${quoteId(runId)} is a registered thread id; an id is a thread or a run, never both`,
    );
  }

  static idIsRun(threadId: string, runThreadId: string) {
    return new RunConflictError(
      `Thread id ${quoteId(threadId)} is a registered run of thread ${quoteId(runThreadId)}; an id is a thread or a run, never both`,
    );
  }
}
