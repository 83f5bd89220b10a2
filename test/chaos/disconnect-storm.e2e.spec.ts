/**
 * Forced disconnect storm (chaos) on the shared Redis, thread-relay and the socket.io +
 * redis-adapter baseline: see support/disconnect-storm.ts for the scenario, which
 * cluster-disconnect-storm runs on a Redis Cluster.
 */
import { standaloneBackend } from './support/backends.js';
import { disconnectStormSuite } from './support/disconnect-storm.js';

disconnectStormSuite(standaloneBackend(), { baseline: true });
