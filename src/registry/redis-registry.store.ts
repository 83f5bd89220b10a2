import { createHash } from 'node:crypto';
import type { ChainableCommander, Redis } from 'ioredis';
import { BadRequestError } from '../errors/bad-request.error.js';
import { toError } from '../errors/to-error.js';
import type { RegistryStore } from './registry-store.interface.js';
import type {
  ClaimResult,
  ConnectionRecord,
  Page,
  ThreadMetadata,
  ThreadRecord,
} from './registry.types.js';
import { CursorRaiseBatch, type CursorRaise } from './cursor-raise-batch.js';
import { RedisRegistryKeys } from './redis-registry.keys.js';

/**
 * A Lua script run with EVALSHA, falling back to EVAL once per connection that has not
 * cached it (NOSCRIPT). Unlike `defineCommand` this adds no methods to a client the
 * user may have passed in. Every script here touches keys of a single hash slot.
 */
class LuaScript {
  private readonly sha: string;

  constructor(private readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(client: Redis, keys: string[], args: (string | number)[] = []): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!isNoScript(error)) throw error;
      return client.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

/** Decides the owner on the one `thread_registry` hash; the first claim wins, later ones read it. */
const CLAIM_THREAD = new LuaScript(`
local owner = redis.call('HGET', KEYS[1], ARGV[1])
if owner then return {0, owner} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return {1, ARGV[2]}
`);

/** HSETNX that also answers which thread the run ended up on. */
const PUT_RUN = new LuaScript(`
local thread = redis.call('HGET', KEYS[1], ARGV[1])
if thread then return thread end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return ARGV[2]
`);

/** Deletes a run and returns its thread, so the thread's run set can be cleaned without a race. */
const TAKE_RUN = new LuaScript(`
local thread = redis.call('HGET', KEYS[1], ARGV[1])
if thread then redis.call('HDEL', KEYS[1], ARGV[1]) end
return thread
`);

/** Drops runs of a deleted thread, sparing any run that meanwhile maps elsewhere. */
const DROP_RUNS_OF_THREAD = new LuaScript(`
local dropped = 0
for i = 2, #ARGV do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[1] then
    dropped = dropped + redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
return dropped
`);

/** Touching a connection that was deleted must not resurrect a partial hash. */
const TOUCH_CONNECTION = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'lastSeenAt', ARGV[1])
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'transport', ARGV[2]) end
return 1
`);

/** Joins only a connection that still exists; atomic with TAKE_CONNECTION on the same slot. */
const JOIN_THREAD = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('SADD', KEYS[2], ARGV[1])
return 1
`);

/**
 * Reads and deletes a connection's own keys in one step, so a concurrent join either
 * lands before (and its thread is unindexed here) or finds the connection gone.
 */
const TAKE_CONNECTION = new LuaScript(`
local fields = redis.call('HMGET', KEYS[1], 'userId', 'instanceId')
local threads = redis.call('SMEMBERS', KEYS[2])
local existed = redis.call('DEL', KEYS[1], KEYS[2])
return {existed, fields[1], fields[2], threads}
`);

/**
 * KEYS: delivered hash. ARGV: userId, seq, epoch. The hash holds `<epoch>:<seq>` per user.
 * Raises the cursor only upward within the epoch; a cursor of another epoch (or an older
 * bare number) is replaced. Returns the seq as stored, a string so large seqs keep every digit.
 */
const RAISE_CURSOR = new LuaScript(`
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then
  local sep = string.find(current, ':', 1, true)
  if sep and string.sub(current, 1, sep - 1) == ARGV[3] then
    local stored = string.sub(current, sep + 1)
    if tonumber(stored) >= tonumber(ARGV[2]) then return stored end
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3] .. ':' .. ARGV[2])
return ARGV[2]
`);

/**
 * The registry shared by every instance. Ownership and run mapping are decided by Lua
 * scripts on the global hashes; the per-thread, per-user and per-connection keys are
 * indexes written after the decision, so readers fall back to the global hashes when an
 * index write was interrupted. Key layout: `redis-registry.keys.ts`.
 */
export class RedisRegistryStore implements RegistryStore {
  private readonly keys: RedisRegistryKeys;

  private readonly cursorRaises = new CursorRaiseBatch((raises) => this.writeCursorRaises(raises));

  constructor(
    private readonly client: Redis,
    keyPrefix = '',
  ) {
    this.keys = new RedisRegistryKeys(keyPrefix);
  }

  async claimThread(record: ThreadRecord): Promise<ClaimResult> {
    const { threadId, ownerId } = record;
    const reply = asArray(
      await CLAIM_THREAD.run(this.client, [this.keys.threadRegistry], [threadId, ownerId]),
    );
    const created = reply[0] === 1;
    const owner = asString(reply[1]);
    if (created) {
      await exec(
        this.client
          .pipeline()
          .hset(this.keys.thread(threadId), {
            ownerId,
            createdAt: String(record.createdAt),
            metadata: JSON.stringify(record.metadata),
          })
          .sadd(this.keys.userThreads(ownerId), threadId),
      );
      return { created: true, record: { ...record, metadata: { ...record.metadata } } };
    }
    // The winner may not have written its per-thread hash yet; the owner is what matters.
    const existing = await this.getThread(threadId);
    return {
      created: false,
      record: existing ?? { threadId, ownerId: owner, createdAt: 0, metadata: {} },
    };
  }

  async getThread(threadId: string): Promise<ThreadRecord | null> {
    const [owner, hash] = await exec(
      this.client
        .pipeline()
        .hget(this.keys.threadRegistry, threadId)
        .hgetall(this.keys.thread(threadId)),
    );
    const ownerId = asNullableString(owner);
    return ownerId === null ? null : toThreadRecord(threadId, ownerId, asHash(hash));
  }

  async deleteThread(threadId: string): Promise<boolean> {
    const [registryOwner, hashOwner, runs] = await exec(
      this.client
        .pipeline()
        .hget(this.keys.threadRegistry, threadId)
        .hget(this.keys.thread(threadId), 'ownerId')
        .smembers(this.keys.threadRuns(threadId)),
    );
    const runIds = asStringArray(runs);
    if (runIds.length > 0) {
      await DROP_RUNS_OF_THREAD.run(this.client, [this.keys.runRegistry], [threadId, ...runIds]);
    }
    const pipeline = this.client
      .pipeline()
      .del(
        this.keys.thread(threadId),
        this.keys.threadRuns(threadId),
        this.keys.threadDelivered(threadId),
      );
    for (const owner of new Set([asNullableString(registryOwner), asNullableString(hashOwner)])) {
      if (owner !== null) pipeline.srem(this.keys.userThreads(owner), threadId);
    }
    // Last, so the thread stays claimed until its indexes are gone and a new owner starts clean.
    pipeline.hdel(this.keys.threadRegistry, threadId);
    const results = await exec(pipeline);
    return results[results.length - 1] === 1;
  }

  async listThreads(cursor: string | null, limit: number): Promise<Page<ThreadRecord>> {
    const [next, flat] = await this.client.hscan(
      this.keys.threadRegistry,
      scanCursor(cursor),
      'COUNT',
      scanCount(limit),
    );
    const pairs = toPairs(flat);
    const pipeline = this.client.pipeline();
    for (const [threadId] of pairs) pipeline.hgetall(this.keys.thread(threadId));
    const hashes = pairs.length > 0 ? await exec(pipeline) : [];
    const items = pairs.map(([threadId, ownerId], i) =>
      toThreadRecord(threadId, ownerId, asHash(hashes[i])),
    );
    return { items, nextCursor: next === '0' ? null : next };
  }

  threadsOfUser(userId: string): Promise<string[]> {
    return this.client.smembers(this.keys.userThreads(userId));
  }

  async putRun(runId: string, threadId: string): Promise<string> {
    const stored = asString(
      await PUT_RUN.run(this.client, [this.keys.runRegistry], [runId, threadId]),
    );
    // Also when the run existed: re-adding heals an index write that was interrupted.
    if (stored === threadId) await this.client.sadd(this.keys.threadRuns(threadId), runId);
    return stored;
  }

  async getRunThread(runId: string): Promise<string | null> {
    return this.client.hget(this.keys.runRegistry, runId);
  }

  runsOfThread(threadId: string): Promise<string[]> {
    return this.client.smembers(this.keys.threadRuns(threadId));
  }

  async deleteRun(runId: string): Promise<boolean> {
    const threadId = asNullableString(
      await TAKE_RUN.run(this.client, [this.keys.runRegistry], [runId]),
    );
    if (threadId === null) return false;
    await this.client.srem(this.keys.threadRuns(threadId), runId);
    return true;
  }

  async putConnection(record: ConnectionRecord): Promise<void> {
    const { connectionId: id } = record;
    const [previous, previousThreads] = await exec(
      this.client
        .pipeline()
        .hmget(this.keys.conn(id), 'userId', 'instanceId')
        .smembers(this.keys.connThreads(id)),
    );
    const [oldUser, oldInstance] = asArray(previous).map(asNullableString);
    const threads = new Set(record.threads);
    const pipeline = this.client.pipeline();
    // A replaced record must not leave its old user, instance or threads pointing at it.
    if (oldUser != null && oldUser !== record.userId) {
      pipeline.srem(this.keys.userConns(oldUser), id);
    }
    if (oldInstance != null && oldInstance !== record.instanceId) {
      pipeline.srem(this.keys.instanceConns(oldInstance), id);
    }
    for (const threadId of asStringArray(previousThreads)) {
      if (!threads.has(threadId)) pipeline.srem(this.keys.threadConns(threadId), id);
    }
    pipeline.del(this.keys.connThreads(id)).hset(this.keys.conn(id), {
      userId: record.userId,
      instanceId: record.instanceId,
      transport: record.transport,
      connectedAt: String(record.connectedAt),
      lastSeenAt: String(record.lastSeenAt),
    });
    if (threads.size > 0) pipeline.sadd(this.keys.connThreads(id), ...threads);
    for (const threadId of threads) pipeline.sadd(this.keys.threadConns(threadId), id);
    pipeline
      .sadd(this.keys.userConns(record.userId), id)
      .sadd(this.keys.instanceConns(record.instanceId), id)
      .hset(this.keys.connections, id, record.instanceId);
    await exec(pipeline);
  }

  async getConnection(connectionId: string): Promise<ConnectionRecord | null> {
    const [hash, threads] = await exec(
      this.client
        .pipeline()
        .hgetall(this.keys.conn(connectionId))
        .smembers(this.keys.connThreads(connectionId)),
    );
    return toConnectionRecord(connectionId, asHash(hash), asStringArray(threads));
  }

  async touchConnection(connectionId: string, lastSeenAt: number, transport = ''): Promise<void> {
    await TOUCH_CONNECTION.run(
      this.client,
      [this.keys.conn(connectionId)],
      [String(lastSeenAt), transport],
    );
  }

  async deleteConnection(connectionId: string): Promise<boolean> {
    return (await this.deleteConnections([connectionId])) === 1;
  }

  async addConnectionThread(connectionId: string, threadId: string): Promise<void> {
    const joined = await JOIN_THREAD.run(
      this.client,
      [this.keys.conn(connectionId), this.keys.connThreads(connectionId)],
      [threadId],
    );
    if (joined !== 1) return;
    const [, stillThere] = await exec(
      this.client
        .pipeline()
        .sadd(this.keys.threadConns(threadId), connectionId)
        .exists(this.keys.conn(connectionId)),
    );
    // Deleted between the join and the thread index write: undo, or the thread keeps a ghost.
    if (stillThere === 0) await this.client.srem(this.keys.threadConns(threadId), connectionId);
  }

  async removeConnectionThread(connectionId: string, threadId: string): Promise<void> {
    await exec(
      this.client
        .pipeline()
        .srem(this.keys.connThreads(connectionId), threadId)
        .srem(this.keys.threadConns(threadId), connectionId),
    );
  }

  connectionsOfThread(threadId: string): Promise<string[]> {
    return this.client.smembers(this.keys.threadConns(threadId));
  }

  countConnectionsOfThread(threadId: string): Promise<number> {
    return this.client.scard(this.keys.threadConns(threadId));
  }

  connectionsOfUser(userId: string): Promise<string[]> {
    return this.client.smembers(this.keys.userConns(userId));
  }

  connectionsOfInstance(instanceId: string): Promise<string[]> {
    return this.client.smembers(this.keys.instanceConns(instanceId));
  }

  async listConnections(cursor: string | null, limit: number): Promise<Page<ConnectionRecord>> {
    const [next, flat] = await this.client.hscan(
      this.keys.connections,
      scanCursor(cursor),
      'COUNT',
      scanCount(limit),
    );
    const ids = toPairs(flat).map(([id]) => id);
    const pipeline = this.client.pipeline();
    for (const id of ids) {
      pipeline.hgetall(this.keys.conn(id)).smembers(this.keys.connThreads(id));
    }
    const results = ids.length > 0 ? await exec(pipeline) : [];
    const items: ConnectionRecord[] = [];
    ids.forEach((id, i) => {
      const record = toConnectionRecord(
        id,
        asHash(results[2 * i]),
        asStringArray(results[2 * i + 1]),
      );
      // Deleted after the scan saw it: leave it out rather than show a half record.
      if (record) items.push(record);
    });
    return { items, nextCursor: next === '0' ? null : next };
  }

  async heartbeatInstance(instanceId: string, ttlMs: number): Promise<void> {
    const now = Date.now();
    await exec(
      this.client
        .pipeline()
        .set(this.keys.instance(instanceId), String(now), 'PX', Math.max(1, Math.ceil(ttlMs)))
        .hset(this.keys.instances, instanceId, String(now)),
    );
  }

  async deadInstances(): Promise<string[]> {
    const instanceIds = await this.client.hkeys(this.keys.instances);
    if (instanceIds.length === 0) return [];
    const pipeline = this.client.pipeline();
    for (const id of instanceIds) pipeline.exists(this.keys.instance(id));
    const alive = await exec(pipeline);
    return instanceIds.filter((_, i) => alive[i] === 0);
  }

  async removeInstance(instanceId: string): Promise<number> {
    const connectionIds = await this.client.smembers(this.keys.instanceConns(instanceId));
    const removed = await this.deleteConnections(connectionIds);
    await exec(
      this.client
        .pipeline()
        .del(this.keys.instance(instanceId), this.keys.instanceConns(instanceId))
        .hdel(this.keys.instances, instanceId),
    );
    return removed;
  }

  recordDelivered(threadId: string, userId: string, seq: number, epoch: string): Promise<number> {
    return this.cursorRaises.raise(threadId, userId, seq, epoch);
  }

  async deliveredCursors(threadId: string, epoch: string): Promise<Record<string, number>> {
    const hash = await this.client.hgetall(this.keys.threadDelivered(threadId));
    const cursors: Record<string, number> = {};
    for (const [userId, value] of Object.entries(hash)) {
      const sep = value.lastIndexOf(':');
      if (sep > 0 && value.slice(0, sep) === epoch) cursors[userId] = Number(value.slice(sep + 1));
    }
    return cursors;
  }

  /** The client belongs to whoever passed it in; pending cursor raises go out first. */
  close(): Promise<void> {
    this.cursorRaises.flush();
    return Promise.resolve();
  }

  /**
   * One EVALSHA per raise, issued back to back. Not an ioredis pipeline: a pipeline object
   * per batch made the process spend about five times as long in young-generation GC
   * (measured with appends, see RedisConnections), for a few saved write syscalls.
   */
  private writeCursorRaises(raises: CursorRaise[]): void {
    for (const raise of raises) {
      RAISE_CURSOR.run(
        this.client,
        [this.keys.threadDelivered(raise.threadId)],
        [raise.userId, String(raise.seq), raise.epoch],
      ).then(
        (after) => settleWithReply(raise, after),
        (error: unknown) => raise.settle(toError(error), 0),
      );
    }
  }

  /** Deletes connections and every index naming them; returns how many existed. */
  private async deleteConnections(connectionIds: string[]): Promise<number> {
    if (connectionIds.length === 0) return 0;
    const taken = await Promise.all(
      connectionIds.map(async (id) =>
        asArray(
          await TAKE_CONNECTION.run(this.client, [this.keys.conn(id), this.keys.connThreads(id)]),
        ),
      ),
    );
    const pipeline = this.client.pipeline();
    // The HDELs come first so their replies sit at the connections' own positions.
    for (const id of connectionIds) pipeline.hdel(this.keys.connections, id);
    connectionIds.forEach((id, i) => {
      const [, userId, instanceId, threads] = taken[i] ?? [];
      for (const threadId of asStringArray(threads)) {
        pipeline.srem(this.keys.threadConns(threadId), id);
      }
      const user = asNullableString(userId);
      if (user !== null) pipeline.srem(this.keys.userConns(user), id);
      const instance = asNullableString(instanceId);
      if (instance !== null) pipeline.srem(this.keys.instanceConns(instance), id);
    });
    const unlisted = await exec(pipeline);
    return connectionIds.filter((_, i) => taken[i]?.[0] === 1 || unlisted[i] === 1).length;
  }
}

async function exec(pipeline: ChainableCommander): Promise<unknown[]> {
  const results = await pipeline.exec();
  if (!results) throw new Error('Redis discarded the pipeline');
  return results.map(([error, value]) => {
    if (error) throw error;
    return value;
  });
}

function scanCursor(cursor: string | null): string {
  if (cursor === null) return '0';
  if (!/^\d{1,20}$/.test(cursor)) {
    throw new BadRequestError(`Invalid page cursor ${JSON.stringify(cursor.slice(0, 40))}`);
  }
  return cursor;
}

/** HSCAN treats COUNT as a hint: a page may hold a few more or fewer items than `limit`. */
function scanCount(limit: number): number {
  return Math.max(1, Math.floor(limit));
}

function toPairs(flat: string[]): [string, string][] {
  const pairs: [string, string][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    pairs.push([flat[i] as string, flat[i + 1] as string]);
  }
  return pairs;
}

function toThreadRecord(
  threadId: string,
  ownerId: string,
  hash: Record<string, string>,
): ThreadRecord {
  // The hash of a previous owner (a delete that was cut short) must not leak into this one.
  if (hash.ownerId !== ownerId) return { threadId, ownerId, createdAt: 0, metadata: {} };
  return {
    threadId,
    ownerId,
    createdAt: Number(hash.createdAt ?? 0) || 0,
    metadata: parseMetadata(hash.metadata),
  };
}

function parseMetadata(text: string | undefined): ThreadMetadata {
  if (text === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return {};
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return {};
  const metadata: ThreadMetadata = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) {
      metadata[key] = value as string | number | boolean | null;
    }
  }
  return metadata;
}

function toConnectionRecord(
  connectionId: string,
  hash: Record<string, string>,
  threads: string[],
): ConnectionRecord | null {
  if (hash.userId === undefined || hash.instanceId === undefined) return null;
  return {
    connectionId,
    userId: hash.userId,
    instanceId: hash.instanceId,
    transport: hash.transport ?? '',
    connectedAt: Number(hash.connectedAt ?? 0) || 0,
    lastSeenAt: Number(hash.lastSeenAt ?? 0) || 0,
    threads,
  };
}

function asArray(value: unknown): unknown[] {
  if (!Array.isArray(value)) throw new Error(`Unexpected Redis reply: ${typeof value}`);
  return value as unknown[];
}

/** The script answers the stored cursor as a string, so large seqs keep every digit. */
function settleWithReply(raise: CursorRaise, reply: unknown): void {
  try {
    raise.settle(null, Number(asString(reply)));
  } catch (error) {
    raise.settle(toError(error), 0);
  }
}

function asString(value: unknown): string {
  if (typeof value !== 'string') throw new Error(`Unexpected Redis reply: ${typeof value}`);
  return value;
}

function asNullableString(value: unknown): string | null {
  return value === null || value === undefined ? null : asString(value);
}

function asStringArray(value: unknown): string[] {
  if (value === null || value === undefined) return [];
  return asArray(value).map(asString);
}

/** HGETALL arrives as an object through ioredis's reply transformer, even in a pipeline. */
function asHash(value: unknown): Record<string, string> {
  if (value === null || value === undefined) return {};
  if (Array.isArray(value)) return Object.fromEntries(toPairs(value.map(asString)));
  if (typeof value !== 'object') throw new Error(`Unexpected Redis reply: ${typeof value}`);
  const hash: Record<string, string> = {};
  for (const [key, field] of Object.entries(value)) hash[key] = asString(field);
  return hash;
}
