import { randomBytes } from 'node:crypto';

/** The Redis that global-setup found or started. */
export function testRedisUrl(): string {
  const url = process.env.REDIS_URL;
  if (!url) throw new Error('REDIS_URL is not set: jest global-setup did not run');
  return url;
}

/** A key prefix no other test uses, so suites sharing one Redis never see each other's keys. */
export function uniquePrefix(label = 't'): string {
  return `test:${label}:${randomBytes(4).toString('hex')}:`;
}
