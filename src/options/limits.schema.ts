import { integer, section } from './option-primitives.js';

const MiB = 1024 * 1024;

/** A count per window or a bucket's burst: at least 1, and at most `max`. */
const count = (fallback: number, max = 1_000_000) => integer(1, max).default(fallback);

/** `limits`: per-connection and per-user limits, every one with a safe default. */
export const limitsSection = section({
  clientEvents: section({ perSecond: count(200), burst: count(400) }),
  connectionAttempts: section({ perMinute: count(60), burst: count(20) }),
  readBytes: section({
    perSecond: integer(1024).default(4 * MiB),
    burst: integer(1024).default(16 * MiB),
  }),
  httpRequests: section({ perSecond: count(100), burst: count(200) }),
  producerRequests: section({ perSecond: count(1_000), burst: count(2_000) }),
  userMessages: section({ perMinute: count(30), burst: count(10) }),
  joinedThreadsPerConnection: count(200, 100_000),
  concurrentJoinsPerConnection: count(4, 10_000),
  connectionsPerUser: count(20),
  autoRegisteredThreadsPerUser: count(1_000, 10_000_000),
});
