import type { RedisClient } from './redis-client.js';
import type { RedisKeys } from './redis-keys.js';
import { DROP_RUN_OF, PUT_RUN, TAKE_RUN } from './redis-registry.scripts.js';
import { asNullableString, exec } from './redis-replies.js';
import type { IdLookup, RunClaim } from '../registry/registry-store.interface.js';

/**
 * Runs of the registry: `run:{R}` names its thread and decides the mapping (one script,
 * in the slot a thread of the same id would have); the thread's runs set follows.
 */
export class RedisRuns {
  constructor(
    private readonly client: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  async putRun(runId: string, threadId: string): Promise<RunClaim> {
    const stored = asNullableString(
      await PUT_RUN.run(this.client, [this.keys.run(runId), this.keys.thread(runId)], [threadId]),
    );
    if (stored === null) return { outcome: 'thread_id' };
    // Also when the run existed: re-adding heals an index write that was interrupted.
    if (stored === threadId) await this.client.sadd(this.keys.thread(threadId, 'runs'), runId);
    return { outcome: 'mapped', threadId: stored };
  }

  getRunThread(runId: string): Promise<string | null> {
    return this.client.get(this.keys.run(runId));
  }

  async lookupId(id: string): Promise<IdLookup> {
    // Both keys are in the id's slot: one round trip, one instant.
    const [runThread, isThread] = await exec(
      this.client.pipeline().get(this.keys.run(id)).hexists(this.keys.thread(id), 'ownerId'),
    );
    const threadId = asNullableString(runThread);
    if (threadId !== null) return { kind: 'run', threadId };
    return isThread === 1 ? { kind: 'thread' } : null;
  }

  runsOfThread(threadId: string): Promise<string[]> {
    return this.client.smembers(this.keys.thread(threadId, 'runs'));
  }

  async deleteRun(runId: string): Promise<boolean> {
    const threadId = asNullableString(await TAKE_RUN.run(this.client, [this.keys.run(runId)]));
    if (threadId === null) return false;
    await this.client.srem(this.keys.thread(threadId, 'runs'), runId);
    return true;
  }

  /** Deletes the runs' keys that still map to the thread (each in its own slot). */
  async dropRuns(threadId: string, runs: string[]): Promise<void> {
    await Promise.all(
      runs.map((runId) => DROP_RUN_OF.run(this.client, [this.keys.run(runId)], [threadId])),
    );
  }
}
