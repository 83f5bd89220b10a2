import { buildRelayChild, startCompiledChild } from './child-build.js';
import { READY_MARKER } from './child-entry.js';
import type { Child } from './child-process.js';
import { TEST_ADMIN_TOKEN, type TestRelayOptions } from './relay-app.js';
import { testRedisUrl, uniquePrefix } from './redis.js';

/** A relay (or reference server) in a process of its own, listening at `url`. */
export interface RelayChild extends Child {
  url: string;
}

/**
 * Starts a compiled child (`entry`: the relay child, or REFERENCE_CHILD_ENTRY) with
 * `options` and any `extraEnv`; resolves once it is listening.
 */
export async function spawnRelayChild(
  entry: string,
  options: TestRelayOptions,
  timeoutMs = 15_000,
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<RelayChild> {
  const child = startCompiledChild(entry, {
    RELAY_CHILD_OPTIONS: JSON.stringify(options),
    ...extraEnv,
  });
  try {
    const ready = new RegExp(`${READY_MARKER} (\\S+)`);
    const [, url = ''] = await child.waitForOutput(ready, 'the relay child to listen', timeoutMs);
    return { ...child, url };
  } catch (error) {
    await child.kill();
    throw error;
  }
}

/**
 * `count` relay children on the shared test Redis under one fresh key prefix, debug routes
 * on (the admin token), named `<label>-0`, `<label>-1`, ...; `extra` adds options to each.
 */
export async function spawnRelayCluster(
  count: number,
  label: string,
  extra: TestRelayOptions = {},
): Promise<RelayChild[]> {
  const entry = await buildRelayChild();
  const keyPrefix = uniquePrefix(label);
  const children: RelayChild[] = [];
  try {
    for (let i = 0; i < count; i += 1) {
      children.push(
        await spawnRelayChild(entry, {
          redis: testRedisUrl(),
          keyPrefix,
          instanceId: `${label}-${i}`,
          debug: { adminToken: TEST_ADMIN_TOKEN },
          ...extra,
        }),
      );
    }
  } catch (error) {
    await Promise.all(children.map((child) => child.kill()));
    throw error;
  }
  return children;
}
