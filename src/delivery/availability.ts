import { RelayUnavailableError } from '../errors/relay-unavailable.error.js';

/**
 * Bounds how long a store operation may wait for an unreachable backend. The operation is
 * not cancelled: if the backend comes back it may still complete, which is why producers
 * that retry after `RELAY_UNAVAILABLE` should pass an idempotency key.
 */
export function withinAvailability<T>(
  operation: Promise<T>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  // On every send's path: one timer and one promise, no race or async frame.
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(
          new RelayUnavailableError(
            `${what}: the relay store did not answer within ${timeoutMs} ms (delivery.unavailableTimeoutMs)`,
          ),
        ),
      timeoutMs,
    );
    operation.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        if (isConnectionError(error)) {
          reject(
            new RelayUnavailableError(`${what}: the relay store is unreachable`, { cause: error }),
          );
        } else {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      },
    );
  });
}

function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return (
    error.name === 'MaxRetriesPerRequestError' ||
    /Connection is closed|ECONNREFUSED|ECONNRESET|Stream isn't writeable|enableOfflineQueue/i.test(
      error.message,
    )
  );
}
