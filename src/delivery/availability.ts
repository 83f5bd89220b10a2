import { RelayUnavailableError } from '../errors/relay-unavailable.error.js';

/**
 * Bounds how long a store operation may wait for an unreachable backend. The operation is
 * not cancelled: if the backend comes back it may still complete, which is why producers
 * that retry after `RELAY_UNAVAILABLE` should pass an idempotency key.
 */
export async function withinAvailability<T>(
  operation: Promise<T>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new RelayUnavailableError(
            `${what}: the relay store did not answer within ${timeoutMs} ms (delivery.unavailableTimeoutMs)`,
          ),
        ),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([operation, timeout]);
  } catch (error) {
    if (error instanceof RelayUnavailableError) throw error;
    if (isConnectionError(error)) {
      throw new RelayUnavailableError(`${what}: the relay store is unreachable`, { cause: error });
    }
    throw error;
  } finally {
    clearTimeout(timer);
  }
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
