import { RelayUnavailableError } from './relay-unavailable.error.js';
import { asUnavailableIfUnreachable, isStoreUnreachable } from './store-unreachable.js';
import { toErrorBody } from './to-error-body.js';

function named(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

describe('isStoreUnreachable', () => {
  it.each([
    new Error('Connection is closed.'),
    new Error('connect ECONNREFUSED 127.0.0.1:7000'),
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
    'Connection is closed',
    null,
  ])('leaves %s alone: a bug is not an outage', (error) => {
    expect(isStoreUnreachable(error)).toBe(false);
    expect(asUnavailableIfUnreachable(error)).toBe(error);
    expect(toErrorBody(error).code).toBe('INTERNAL');
  });
});
