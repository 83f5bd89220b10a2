/**
 * Chaos: one of three relay instances (separate processes, one Redis) is SIGKILLed while
 * producers stream events into every instance and 30 SDK clients behind a round-robin load
 * balancer follow their threads. The dead instance's clients must come back on the
 * survivors, its registry entries must be swept within the liveness bound, and every
 * client must hand its application each thread's events 1..head exactly once, in order,
 * including every send a producer got a receipt for.
 */
import { standaloneBackend } from './support/backends.js';
import { instanceKillSuite } from './support/instance-kill.js';

// The scenario lives in support/instance-kill.ts; cluster-instance-kill runs it on a Redis Cluster.
instanceKillSuite(standaloneBackend());
