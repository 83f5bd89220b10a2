import { RelayUnavailableError } from './relay-unavailable.error.js';

/**
 * Errors of a Redis client that say the store cannot be reached right now, not that the
 * request was wrong: a lost or refused connection, and on Redis Cluster a failover in
 * progress (no master for the slot yet, redirections that do not settle, a slot map that
 * cannot be refreshed). The operation may or may not have run; a retry with the same
 * idempotency key is safe.
 */
const UNREACHABLE =
  /Connection is closed|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|Stream isn't writeable|enableOfflineQueue|^CLUSTERDOWN|^TRYAGAIN|^MASTERDOWN|^LOADING|Too many Cluster redirections|Failed to refresh slots cache|None of startup nodes is available|Cluster is ended/i;

export function isStoreUnreachable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return (
    error.name === 'MaxRetriesPerRequestError' ||
    error.name === 'ClusterAllFailedError' ||
    UNREACHABLE.test(error.message)
  );
}

/** A store that cannot be reached is `RELAY_UNAVAILABLE` to clients; anything else is unchanged. */
export function asUnavailableIfUnreachable(error: unknown, what = 'request'): unknown {
  if (!isStoreUnreachable(error)) return error;
  return new RelayUnavailableError(`${what}: the relay store is unreachable; retry shortly`, {
    cause: error,
  });
}
