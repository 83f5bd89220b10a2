import { randomBytes } from 'node:crypto';

/** The Redis that global-setup found or started. */
export function testRedisUrl(): string {
  const url = process.env.REDIS_URL;
  if (!url) throw new Error('REDIS_URL is not set: jest global-setup did not run');
  return url;
}

/**
 * A key prefix no other test uses, so suites sharing one Redis never see each other's keys.
 * It starts with the run's prefix, whose keys global teardown deletes.
 */
export function uniquePrefix(label = 't'): string {
  return `${testRunPrefix()}${label}:${randomBytes(4).toString('hex')}:`;
}

/** `test:<run id>:`, the run id set by global setup (`adhoc` outside a jest run). */
export function testRunPrefix(): string {
  return `test:${process.env.RELAY_TEST_RUN ?? 'adhoc'}:`;
}
