import { Inject, Injectable } from '@nestjs/common';
import { InvalidIdError } from '../errors/invalid-id.error.js';
import type { RelayError } from '../errors/relay-error.js';
import { RunConflictError } from '../errors/run-conflict.error.js';
import { ThreadNotFoundError } from '../errors/thread-not-found.error.js';
import { ThreadOwnershipConflictError } from '../errors/thread-ownership-conflict.error.js';
import { RelayLogger } from '../thread-relay.logger.js';
import { type ResolvedRelayOptions, type ThreadAction } from '../thread-relay.options.js';
import { REGISTRY_STORE, RELAY_OPTIONS } from '../thread-relay.constants.js';
import { type RegistryStore, type ClaimResult, type IdLookup } from './registry-store.interface.js';
import type { ConnectionRecord } from './registry.types.js';
import type { ThreadMetadata, ThreadRecord } from '../thread-record.js';
import { assertValidId, parseRunId } from '../ids.js';
import { ThreadAccessChanges } from './thread-access-changes.js';
import { RegistryInput } from './registry-input.js';
import { IdResolver, type Resolution } from './id-resolver.js';
import { TouchThrottle } from './touch-throttle.js';

/**
 * Who owns which thread, which run belongs to which thread, and which connections are
 * joined where. Every id is validated here, so stores only ever see well-formed ids.
 */
@Injectable()
export class ThreadRegistryService {
  private readonly log: RelayLogger;
  private readonly resolver: IdResolver;
  private readonly touches: TouchThrottle;
  private readonly input: RegistryInput;

  constructor(
    @Inject(REGISTRY_STORE) private readonly store: RegistryStore,
    @Inject(RELAY_OPTIONS) private readonly options: ResolvedRelayOptions,
    private readonly changes: ThreadAccessChanges,
  ) {
    this.log = RelayLogger.for(ThreadRegistryService.name, options);
    this.resolver = new IdResolver(store, this.log);
    this.input = new RegistryInput(this.log);
    // A lease renewal at most every tenth of the lease (capped at 10 min) per thread here.
    const ttlMs = options.history.autoThreadTtlSeconds * 1000;
    this.touches = new TouchThrottle(Math.min(ttlMs / 10, 600_000));
  }

  /**
   * Registers `threadId` to `userId`, for good: it never expires (an auto-registered
   * thread of the same owner is adopted). Idempotent for the same owner; another owner
   * gets `ThreadOwnershipConflictError`, a registered run's id `RunConflictError`, and an
   * id of the run form `BadRequestError` (such ids are reserved for runs).
   */
  async registerThread(
    threadId: string,
    userId: string,
    metadata: ThreadMetadata = {},
  ): Promise<ThreadRecord> {
    const tid = this.input.threadId(threadId, { userId });
    const uid = this.input.id(userId, 'userId', { threadId: tid });
    const result = await this.store.claimThread({
      threadId: tid,
      ownerId: uid,
      createdAt: Date.now(),
      metadata,
    });
    return this.claimed(result, tid, uid);
  }

  /**
   * A user's claim of an unregistered thread (auto-registration): leased, so it expires
   * when unused, and counted against `limits.autoRegisteredThreadsPerUser`. The raw store
   * outcome is returned: the caller turns it into the answer its user should get.
   */
  async claimForUser(threadId: string, userId: string): Promise<ClaimResult> {
    const tid = this.input.threadId(threadId, { userId });
    const result = await this.store.claimThread(
      { threadId: tid, ownerId: userId, createdAt: Date.now(), metadata: {} },
      {
        ttlSeconds: this.options.history.autoThreadTtlSeconds,
        maxPerUser: this.options.limits.autoRegisteredThreadsPerUser,
      },
    );
    if (result.outcome === 'created') {
      this.log.info({ msg: 'thread registered', threadId: tid, userId, auto: true });
      // Connections may still be joined to an earlier thread under this id.
      this.changes.emit({ threadId: tid, reason: 'registered' });
    }
    return result;
  }

  async unregisterThread(threadId: string): Promise<boolean> {
    const tid = this.input.id(threadId, 'threadId');
    this.resolver.forget(tid);
    const removed = await this.store.deleteThread(tid);
    if (removed) {
      this.log.info({ msg: 'thread unregistered', threadId: tid });
      this.changes.emit({ threadId: tid, reason: 'unregistered' });
    }
    return removed;
  }

  /**
   * Maps a run to its (registered) thread. A run is set once; mapping it elsewhere, or
   * using a registered thread's id as a run id, is `RunConflictError`.
   */
  async registerRun(runId: string, threadId: string): Promise<void> {
    const rid = this.input.id(runId, 'runId', { threadId });
    const tid = this.input.id(threadId, 'threadId', { runId: rid });
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
    const claim = await this.store.putRun(rid, tid);
    const error =
      claim.outcome === 'thread_id'
        ? RunConflictError.idIsThread(rid)
        : claim.threadId !== tid
          ? RunConflictError.alreadyMapped(rid, claim.threadId, tid)
          : null;
    if (error) {
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
    const rid = this.input.id(runId, 'runId');
    this.resolver.forgetId(rid);
    return this.store.deleteRun(rid);
  }

  /** The thread id for a registered run id, a thread id, or a run-form id of a registered thread. */
  async resolve(id: string): Promise<string> {
    return (await this.resolveDetailed(id)).threadId;
  }

  /** The resolution of `id` if it is cached and fresh, without a store read. */
  cachedResolution(id: string): Resolution | undefined {
    return this.resolver.cached(id);
  }

  /** Resolution order: registered run, then thread, then the run form's thread part. */
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
    const resolution = await this.resolver.resolve(checkedId);
    if (!resolution) {
      const parsed = parseRunId(checkedId);
      const error = new ThreadNotFoundError(
        checkedId,
        parsed ? `its thread part ${JSON.stringify(parsed.threadId)} is not registered` : undefined,
      );
      this.log.warn({ msg: 'resolve failed', id: checkedId, code: error.code });
      throw error;
    }
    return resolution;
  }

  getThread(threadId: string): Promise<ThreadRecord | null> {
    return this.store.getThread(this.input.id(threadId, 'threadId'));
  }

  /** Whether an id is a registered thread or run (and of which thread), in one read. */
  lookupId(id: string): Promise<IdLookup> {
    return this.store.lookupId(this.input.id(id, 'id'));
  }

  /**
   * Keeps an auto-registered thread alive after a use (a join, a read, an event). At most
   * one store write per thread per throttle period on this instance; never throws.
   */
  touchThread(threadId: string): void {
    if (!this.touches.due(threadId)) return;
    this.store.touchThread(threadId, this.options.history.autoThreadTtlSeconds).catch(() => {
      // The lease only runs shorter; the next use renews it.
      this.touches.forget(threadId);
    });
  }

  /** Forgets threads whose lease ran out, and has their connections checked again. */
  async sweepExpiredThreads(): Promise<string[]> {
    const expired = await this.store.sweepExpiredThreads();
    for (const threadId of expired) {
      this.resolver.forget(threadId);
      this.changes.emit({ threadId, reason: 'expired' });
    }
    if (expired.length > 0)
      this.log.info({ msg: 'expired threads swept', threads: expired.length });
    return expired;
  }

  /**
   * Has every connection joined to the thread, on every instance, checked against the
   * access rule again; those that may no longer read it leave it (`thread:left`). Call it
   * after a change your `threadAccess` hook decides on (a member removed from a team).
   */
  revalidateAccess(threadId: string): void {
    const tid = this.input.id(threadId, 'threadId');
    this.changes.emit({ threadId: tid, reason: 'revalidate' });
  }

  threadsOfUser(userId: string): Promise<string[]> {
    return this.store.threadsOfUser(this.input.id(userId, 'userId'));
  }

  runsOfThread(threadId: string): Promise<string[]> {
    return this.store.runsOfThread(this.input.id(threadId, 'threadId'));
  }

  /**
   * May `userId` perform `action` on the thread whose record (null: unregistered) the
   * caller read? The `threadAccess` hook decides if given, else ownership. The record is
   * passed in so one decision reads the thread once.
   */
  async mayAccess(
    userId: string,
    threadId: string,
    thread: ThreadRecord | null,
    action: ThreadAction,
  ): Promise<boolean> {
    if (this.options.threadAccess) {
      return (await this.options.threadAccess(userId, threadId, thread, action)) === true;
    }
    return thread !== null && thread.ownerId === userId;
  }

  /** Registers the connection; false when its user already holds `limits.connectionsPerUser`. */
  async registerConnection(
    record: Omit<ConnectionRecord, 'threads' | 'instanceId'>,
  ): Promise<boolean> {
    const full: ConnectionRecord = { ...record, instanceId: this.options.instanceId, threads: [] };
    const admitted = await this.store.putConnection(full, {
      maxPerUser: this.options.limits.connectionsPerUser,
    });
    if (!admitted) return false;
    this.log.info({
      msg: 'connection opened',
      connectionId: record.connectionId,
      userId: record.userId,
      transport: record.transport,
      instanceId: full.instanceId,
    });
    return true;
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

  private claimed(result: ClaimResult, threadId: string, userId: string): ThreadRecord {
    if (result.outcome === 'created' || result.outcome === 'existing') {
      if (result.record.ownerId !== userId) {
        throw this.refused(new ThreadOwnershipConflictError(threadId, userId), threadId, userId);
      }
      if (result.outcome === 'created') {
        this.log.info({ msg: 'thread registered', threadId, userId });
        this.changes.emit({ threadId, reason: 'registered' });
      }
      return result.record;
    }
    if (result.outcome === 'run_id') {
      throw this.refused(RunConflictError.idIsRun(threadId, result.threadId), threadId, userId);
    }
    // Only leased claims are capped.
    throw new Error(`unexpected claim outcome ${result.outcome} for a permanent registration`);
  }

  private refused(error: RelayError, threadId: string, userId: string): RelayError {
    this.log.warn({ msg: 'thread registration refused', threadId, userId, code: error.code });
    return error;
  }
}
