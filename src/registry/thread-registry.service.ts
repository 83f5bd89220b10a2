import { Inject, Injectable } from '@nestjs/common';
import { RunConflictError } from '../errors/run-conflict.error.js';
import { ThreadNotFoundError } from '../errors/thread-not-found.error.js';
import { ThreadOwnershipConflictError } from '../errors/thread-ownership-conflict.error.js';
import { InvalidIdError } from '../errors/invalid-id.error.js';
import { RelayLogger } from '../thread-relay.logger.js';
import {
  RELAY_OPTIONS,
  type ResolvedRelayOptions,
  type ThreadAction,
} from '../thread-relay.options.js';
import { REGISTRY_STORE, type RegistryStore } from './registry-store.interface.js';
import type { ConnectionRecord, Page, ThreadMetadata, ThreadRecord } from './registry.types.js';
import { assertValidId, parseRunId } from './thread-id.js';

export interface Resolution {
  threadId: string;
  /** Set when the id was a run id (registered or of the conventional form). */
  runId?: string;
}

/** Positive resolutions are cached briefly: a thread's owner never changes, so a hit is safe. */
const RESOLVE_CACHE_MAX = 10_000;
const RESOLVE_CACHE_TTL_MS = 30_000;

/**
 * Who owns which thread, which run belongs to which thread, and which connections are
 * joined where. Every id is validated here, so stores only ever see well-formed ids.
 */
@Injectable()
export class ThreadRegistryService {
  private readonly log: RelayLogger;
  private readonly resolved = new Map<string, { value: Resolution; until: number }>();

  constructor(
    @Inject(REGISTRY_STORE) private readonly store: RegistryStore,
    @Inject(RELAY_OPTIONS) private readonly options: ResolvedRelayOptions,
  ) {
    this.log = RelayLogger.for(ThreadRegistryService.name, options);
  }

  get instanceId(): string {
    return this.options.instanceId;
  }

  /**
   * Registers `threadId` to `userId`. Idempotent for the same owner; another owner gets
   * `ThreadOwnershipConflictError`, decided atomically by the store.
   */
  async registerThread(
    threadId: string,
    userId: string,
    metadata: ThreadMetadata = {},
  ): Promise<ThreadRecord> {
    const tid = this.checked(threadId, 'threadId', { userId });
    const uid = this.checked(userId, 'userId', { threadId: tid });
    const { created, record } = await this.store.claimThread({
      threadId: tid,
      ownerId: uid,
      createdAt: Date.now(),
      metadata,
    });
    if (record.ownerId !== uid) {
      const error = new ThreadOwnershipConflictError(tid, uid);
      this.log.warn({
        msg: 'thread registration refused',
        threadId: tid,
        userId: uid,
        code: error.code,
      });
      throw error;
    }
    if (created) this.log.info({ msg: 'thread registered', threadId: tid, userId: uid });
    return record;
  }

  async unregisterThread(threadId: string): Promise<boolean> {
    const tid = this.checked(threadId, 'threadId');
    for (const [key, entry] of this.resolved) {
      if (entry.value.threadId === tid) this.resolved.delete(key);
    }
    const removed = await this.store.deleteThread(tid);
    if (removed) this.log.info({ msg: 'thread unregistered', threadId: tid });
    return removed;
  }

  /** Maps a run to its (registered) thread. A run is set once; mapping it elsewhere is `RunConflictError`. */
  async registerRun(runId: string, threadId: string): Promise<void> {
    const rid = this.checked(runId, 'runId', { threadId });
    const tid = this.checked(threadId, 'threadId', { runId: rid });
    if (!(await this.store.getThread(tid))) {
      const error = new ThreadNotFoundError(tid, `cannot register run ${rid}`);
      this.log.warn({
        msg: 'run registration failed',
        runId: rid,
        threadId: tid,
        code: error.code,
      });
      throw error;
    }
    const stored = await this.store.putRun(rid, tid);
    if (stored !== tid) {
      const error = new RunConflictError(rid, stored, tid);
      this.log.warn({
        msg: 'run registration refused',
        runId: rid,
        threadId: tid,
        code: error.code,
      });
      throw error;
    }
    this.log.info({ msg: 'run registered', runId: rid, threadId: tid });
  }

  async unregisterRun(runId: string): Promise<boolean> {
    const rid = this.checked(runId, 'runId');
    this.resolved.delete(rid);
    return this.store.deleteRun(rid);
  }

  /** The thread id for a thread id, a registered run id, or a conventional run id of a registered thread. */
  async resolve(id: string): Promise<string> {
    return (await this.resolveDetailed(id)).threadId;
  }

  /** The resolution of `id` if it is cached and fresh, without a store read. */
  cachedResolution(id: string): Resolution | undefined {
    const cached = this.resolved.get(id);
    return cached && cached.until > Date.now() ? cached.value : undefined;
  }

  async resolveDetailed(id: unknown): Promise<Resolution> {
    let checkedId: string;
    try {
      checkedId = assertValidId(id, 'thread or run id');
    } catch (error) {
      if (error instanceof InvalidIdError) {
        this.log.warn({ msg: 'resolve failed', code: error.code, reason: error.message });
      }
      throw error;
    }
    const cached = this.cachedResolution(checkedId);
    if (cached) return cached;

    const resolution = await this.lookup(checkedId);
    if (!resolution) {
      const parsed = parseRunId(checkedId);
      const error = new ThreadNotFoundError(
        checkedId,
        parsed ? `its thread part ${JSON.stringify(parsed.threadId)} is not registered` : undefined,
      );
      this.log.warn({ msg: 'resolve failed', id: checkedId, code: error.code });
      throw error;
    }
    this.remember(checkedId, resolution);
    return resolution;
  }

  private async lookup(id: string): Promise<Resolution | null> {
    if (await this.store.getThread(id)) return { threadId: id };
    const runThread = await this.store.getRunThread(id);
    if (runThread) return { threadId: runThread, runId: id };
    const parsed = parseRunId(id);
    if (parsed && (await this.store.getThread(parsed.threadId))) {
      // Record the run so operators see it under its thread; a concurrent mapping wins.
      const stored = await this.store.putRun(id, parsed.threadId);
      this.log.info({ msg: 'run registered', runId: id, threadId: stored, via: 'run id format' });
      return { threadId: stored, runId: id };
    }
    return null;
  }

  private remember(id: string, value: Resolution): void {
    if (this.resolved.size >= RESOLVE_CACHE_MAX) {
      const oldest = this.resolved.keys().next();
      if (!oldest.done) this.resolved.delete(oldest.value);
    }
    this.resolved.set(id, { value, until: Date.now() + RESOLVE_CACHE_TTL_MS });
  }

  getThread(threadId: string): Promise<ThreadRecord | null> {
    return this.store.getThread(this.checked(threadId, 'threadId'));
  }

  threadsOfUser(userId: string): Promise<string[]> {
    return this.store.threadsOfUser(this.checked(userId, 'userId'));
  }

  runsOfThread(threadId: string): Promise<string[]> {
    return this.store.runsOfThread(this.checked(threadId, 'threadId'));
  }

  /** May `userId` perform `action` on the thread? The `threadAccess` hook decides if given, else ownership. */
  async canAccess(userId: string, threadId: string, action: ThreadAction): Promise<boolean> {
    const thread = await this.store.getThread(threadId);
    if (this.options.threadAccess) {
      return (await this.options.threadAccess(userId, threadId, thread, action)) === true;
    }
    return thread !== null && thread.ownerId === userId;
  }

  async registerConnection(
    record: Omit<ConnectionRecord, 'threads' | 'instanceId'>,
  ): Promise<void> {
    const full: ConnectionRecord = { ...record, instanceId: this.options.instanceId, threads: [] };
    await this.store.putConnection(full);
    this.log.info({
      msg: 'connection opened',
      connectionId: record.connectionId,
      userId: record.userId,
      transport: record.transport,
      instanceId: full.instanceId,
    });
  }

  async unregisterConnection(connectionId: string, reason: string): Promise<void> {
    const record = await this.store.getConnection(connectionId);
    await this.store.deleteConnection(connectionId);
    this.log.info({
      msg: 'connection closed',
      connectionId,
      userId: record?.userId,
      transport: record?.transport,
      reason,
    });
  }

  addConnectionThread(connectionId: string, threadId: string): Promise<void> {
    return this.store.addConnectionThread(connectionId, threadId);
  }

  removeConnectionThread(connectionId: string, threadId: string): Promise<void> {
    return this.store.removeConnectionThread(connectionId, threadId);
  }

  touchConnection(connectionId: string, at = Date.now(), transport?: string): Promise<void> {
    return this.store.touchConnection(connectionId, at, transport);
  }

  getConnection(connectionId: string): Promise<ConnectionRecord | null> {
    return this.store.getConnection(connectionId);
  }

  connectionsOfThread(threadId: string): Promise<string[]> {
    return this.store.connectionsOfThread(threadId);
  }

  countConnectionsOfThread(threadId: string): Promise<number> {
    return this.store.countConnectionsOfThread(threadId);
  }

  connectionsOfUser(userId: string): Promise<string[]> {
    return this.store.connectionsOfUser(userId);
  }

  connectionsOfInstance(instanceId: string): Promise<string[]> {
    return this.store.connectionsOfInstance(instanceId);
  }

  listThreads(cursor: string | null, limit: number): Promise<Page<ThreadRecord>> {
    return this.store.listThreads(cursor, limit);
  }

  listConnections(cursor: string | null, limit: number): Promise<Page<ConnectionRecord>> {
    return this.store.listConnections(cursor, limit);
  }

  recordDelivered(threadId: string, userId: string, seq: number, epoch: string): Promise<number> {
    return this.store.recordDelivered(threadId, userId, seq, epoch);
  }

  /** Delivered cursors per user that count in log `epoch` (the log's current one, normally). */
  deliveredCursors(threadId: string, epoch: string): Promise<Record<string, number>> {
    return this.store.deliveredCursors(threadId, epoch);
  }

  private checked(value: unknown, field: string, context: Record<string, string> = {}): string {
    try {
      return assertValidId(value, field);
    } catch (error) {
      if (error instanceof InvalidIdError) {
        this.log.warn({ msg: 'registry input refused', field, code: error.code, ...context });
      }
      throw error;
    }
  }
}
