/** What was thrown or rejected, as an Error (a non-Error value becomes its message). */
export function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
