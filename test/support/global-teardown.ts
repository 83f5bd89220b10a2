import type { ChildProcess } from 'node:child_process';

export default function globalTeardown(): void {
  const child = (globalThis as { __relayRedisChild?: ChildProcess }).__relayRedisChild;
  child?.kill('SIGTERM');
}
