import { LuaScript } from './lua-script.js';

/**
 * The registry's Lua scripts. Each touches the keys of one id only (one `{...}` hash tag,
 * so one Redis Cluster slot); what spans ids (indexes) is written after the decision.
 */

/**
 * KEYS: thread hash, run key of the same id, the thread's runs set, its delivered hash,
 * then any other keys of an earlier thread under this id to clear (the log's).
 * ARGV: ownerId, createdAt, metadata JSON, lease seconds (0 = permanent).
 *
 * The id is refused when it is a registered run. An existing thread wins; its owner's
 * leased claim renews the lease, a permanent one adopts it (no more expiry). A new thread
 * starts clean and the runs of the one before are handed back so their keys can go too.
 */
export const CLAIM_THREAD = new LuaScript(`
local run = redis.call('GET', KEYS[2])
if run then return {'run_id', run} end
local f = redis.call('HMGET', KEYS[1], 'ownerId', 'createdAt', 'metadata', 'auto')
local lease = tonumber(ARGV[4])
if f[1] then
  local auto = f[4]
  if f[1] == ARGV[1] and auto then
    if lease > 0 then
      redis.call('EXPIRE', KEYS[1], lease, 'GT')
    else
      redis.call('HDEL', KEYS[1], 'auto')
      redis.call('PERSIST', KEYS[1])
      auto = false
    end
  end
  return {'existing', f[1], f[2] or '0', f[3] or '{}', auto and '1' or ''}
end
local stale = redis.call('SMEMBERS', KEYS[3])
for i = 3, #KEYS do redis.call('DEL', KEYS[i]) end
redis.call('HSET', KEYS[1], 'ownerId', ARGV[1], 'createdAt', ARGV[2], 'metadata', ARGV[3])
if lease > 0 then
  redis.call('HSET', KEYS[1], 'auto', '1')
  redis.call('EXPIRE', KEYS[1], lease)
end
return {'created', stale}
`);

/**
 * KEYS: the owner's set of leased threads. ARGV: threadId, cap. Reserves a place for the
 * thread under the cap: 1 when it holds one already, 2 when added now, 0 when full.
 */
export const RESERVE_LEASE = new LuaScript(`
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 1 end
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('SADD', KEYS[1], ARGV[1])
return 2
`);

/** KEYS: thread hash. ARGV: seconds. Extends a leased thread; answers its owner, or nil. */
export const TOUCH_THREAD = new LuaScript(`
local f = redis.call('HMGET', KEYS[1], 'ownerId', 'auto')
if not f[1] or not f[2] then return false end
redis.call('EXPIRE', KEYS[1], ARGV[1], 'GT')
return f[1]
`);

/** KEYS: thread hash, runs set, delivered hash. Deletes them; answers {owner, runs} or nil. */
export const TAKE_THREAD = new LuaScript(`
local owner = redis.call('HGET', KEYS[1], 'ownerId')
if not owner then return false end
local runs = redis.call('SMEMBERS', KEYS[2])
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
return {owner, runs}
`);

/**
 * KEYS: thread hash, runs set, delivered hash. A thread still there answers {0, pttl};
 * a lapsed one has its runs set and cursors deleted and answers {1, runs}.
 */
export const SWEEP_THREAD = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return {0, redis.call('PTTL', KEYS[1])} end
local runs = redis.call('SMEMBERS', KEYS[2])
redis.call('DEL', KEYS[2], KEYS[3])
return {1, runs}
`);

/** KEYS: a hash. ARGV: field, value. Deletes the field only while it still holds the value. */
export const HDEL_IF = new LuaScript(`
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0
`);

/**
 * KEYS: run key, thread hash of the same id. ARGV: threadId. Maps the run once; answers the
 * thread it maps to, or nil when the id is a registered thread.
 */
export const PUT_RUN = new LuaScript(`
if redis.call('EXISTS', KEYS[2]) == 1 then return false end
local thread = redis.call('GET', KEYS[1])
if thread then return thread end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]
`);

/** KEYS: run key. Deletes the run and answers its thread, so the thread's run set can be cleaned. */
export const TAKE_RUN = new LuaScript(`
local thread = redis.call('GET', KEYS[1])
if thread then redis.call('DEL', KEYS[1]) end
return thread
`);

/** KEYS: run key. ARGV: threadId. Deletes the run only if it still maps to that thread. */
export const DROP_RUN_OF = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

/**
 * KEYS: the user's connection set. ARGV: connectionId, cap (-1 = none). Admits the
 * connection under the cap: 1, or 0 when the user holds that many already.
 */
export const ADMIT_CONNECTION = new LuaScript(`
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 1 end
local cap = tonumber(ARGV[2])
if cap >= 0 and redis.call('SCARD', KEYS[1]) >= cap then return 0 end
redis.call('SADD', KEYS[1], ARGV[1])
return 1
`);

/** Touching a connection that was deleted must not resurrect a partial hash. */
export const TOUCH_CONNECTION = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'lastSeenAt', ARGV[1])
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'transport', ARGV[2]) end
return 1
`);

/** Joins only a connection that still exists; atomic with TAKE_CONNECTION on the same slot. */
export const JOIN_THREAD = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('SADD', KEYS[2], ARGV[1])
return 1
`);

/**
 * Reads and deletes a connection's own keys in one step, so a concurrent join either
 * lands before (and its thread is unindexed here) or finds the connection gone.
 */
export const TAKE_CONNECTION = new LuaScript(`
local fields = redis.call('HMGET', KEYS[1], 'userId', 'instanceId')
local threads = redis.call('SMEMBERS', KEYS[2])
local existed = redis.call('DEL', KEYS[1], KEYS[2])
return {existed, fields[1], fields[2], threads}
`);

/**
 * KEYS: delivered hash. ARGV: userId, seq, epoch, ttlSeconds, the thread's acks channel
 * ('' for none), the publish command. The hash holds `<epoch>:<seq>` per user. Raises the
 * cursor only upward within the epoch; a cursor of another epoch is replaced. The hash
 * lives as long as the log it counts (the TTL is renewed on every raise). A raised cursor is
 * published in the same step (`<epoch>\n<seq>\n<userId>`), for producers waiting for
 * delivery (one not raised was published when it was). Returns the seq as stored, a
 * string so large seqs keep every digit.
 */
export const RAISE_CURSOR = new LuaScript(`
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then
  local sep = string.find(current, ':', 1, true)
  if sep and string.sub(current, 1, sep - 1) == ARGV[3] then
    local stored = string.sub(current, sep + 1)
    if tonumber(stored) >= tonumber(ARGV[2]) then
      redis.call('EXPIRE', KEYS[1], ARGV[4])
      return stored
    end
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3] .. ':' .. ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[4])
if ARGV[5] ~= '' then
  redis.call(ARGV[6], ARGV[5], ARGV[3] .. '\\n' .. ARGV[2] .. '\\n' .. ARGV[1])
end
return ARGV[2]
`);
