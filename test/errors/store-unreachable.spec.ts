import { RelayUnavailableError } from '../../src/errors/relay-unavailable.error.js';
import { ThreadNotFoundError } from '../../src/errors/thread-not-found.error.js';
import {
  asUnavailableIfUnreachable,
  isStoreUnreachable,
} from '../../src/errors/store-unreachable.js';
import { toErrorBody } from '../../src/errors/error-answer.js';

function named(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

describe('isStoreUnreachable', () => {
  it.each([
    new Error('Connection is closed.'),
    Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:7000'), { code: 'ECONNREFUSED' }),
    new Error('Command timed out'),
    new Error(
      'UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)',
    ),
    new Error(
      'ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.',
    ),
    new Error('Command aborted due to connection close'),
    new Error("READONLY You can't write against a read only replica."),
    new Error('CLUSTERDOWN The cluster is down'),
    new Error('TRYAGAIN Multiple keys request during rehashing of slot'),
    new Error('MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to no'),
    new Error('LOADING Redis is loading the dataset in memory'),
    new Error('Too many Cluster redirections. Last error: Error: Connection is closed.'),
    new Error('Failed to refresh slots cache.'),
    named('MaxRetriesPerRequestError', 'Reached the max retries per request limit'),
    named('ClusterAllFailedError', 'Failed to refresh slots cache.'),
  ])('counts %s as the store being unreachable', (error) => {
    expect(isStoreUnreachable(error)).toBe(true);
    const mapped = asUnavailableIfUnreachable(error, 'append');
    expect(mapped).toBeInstanceOf(RelayUnavailableError);
    expect((mapped as Error).cause).toBe(error);
    expect(toErrorBody(error).code).toBe('RELAY_UNAVAILABLE');
  });

  it.each([
    new Error('ERR wrong number of arguments'),
    new Error('WRONGTYPE Operation against a key holding the wrong kind of value'),
    new Error('CROSSSLOT Keys in request don\u2019t hash to the same slot'),
    new TypeError('x is undefined'),
    // Ids may contain these words; only the store's own errors count.
    new Error('Thread ECONNREFUSED not found'),
    new Error('my-etimedout-thread is not valid'),
    new ThreadNotFoundError('Thread "EPIPE" not found'),
    new ThreadNotFoundError('Connection is closed'),
    'Connection is closed',
    null,
  ])('leaves %s alone: a bug or a refusal of ours is not an outage', (error) => {
    expect(isStoreUnreachable(error)).toBe(false);
    expect(asUnavailableIfUnreachable(error)).toBe(error);
    expect(toErrorBody(error).code).toBe(
      error instanceof ThreadNotFoundError ? 'THREAD_NOT_FOUND' : 'INTERNAL',
    );
  });
});
