import { RelayError } from './relay-error.js';
import { RelayUnavailableError } from './relay-unavailable.error.js';

/** Node socket error codes of a connection that failed or broke. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH']);

/** Error classes of ioredis for a connection or a cluster that cannot serve now. */
const CLIENT_ERRORS = new Set(['MaxRetriesPerRequestError', 'ClusterAllFailedError']);

/**
 * Messages of ioredis (connection lost, offline queue off, redirections that do not settle,
 * a slot map that cannot be refreshed, a command timeout) and Redis replies of a cluster in
 * failover or a server that is starting (`UNBLOCKED`: a WAIT on a master that became a
 * replica in a failover, or a WAIT that reaches it just after: `ERR WAIT cannot be used with
 * replica instances`). Anchored at the start: an id that merely contains
 * one of these words is not an outage.
 */
const MESSAGES =
  /^(Connection is closed|Connection is aborted|Command aborted due to connection close|Command timed out|Stream isn't writeable|Too many Cluster redirections|Failed to refresh slots cache|None of startup nodes is available|Cluster is ended|CLUSTERDOWN|TRYAGAIN|MASTERDOWN|LOADING|READONLY|UNBLOCKED|ERR WAIT cannot be used with replica instances)\b/;

/**
 * Whether an error says that the store (Redis) cannot be reached right now, rather than
 * that the request was wrong. The operation may or may not have run; a retry with the same
 * idempotency key is safe. The module's own errors keep their meaning.
 */
export function isStoreUnreachable(error: unknown): boolean {
  if (!(error instanceof Error) || error instanceof RelayError) return false;
  const code = (error as { code?: unknown }).code;
  return (
    CLIENT_ERRORS.has(error.name) ||
    (typeof code === 'string' && SOCKET_CODES.has(code)) ||
    MESSAGES.test(error.message)
  );
}

/** A store that cannot be reached is `RELAY_UNAVAILABLE` to clients; anything else is unchanged. */
export function asUnavailableIfUnreachable(error: unknown, what = 'request'): unknown {
  if (!isStoreUnreachable(error)) return error;
  return new RelayUnavailableError(`${what}: the relay store is unreachable; retry shortly`, {
    cause: error,
  });
}
