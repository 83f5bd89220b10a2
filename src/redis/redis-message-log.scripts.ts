import { LuaScript } from './lua-script.js';

/** The message log's Lua scripts, each over the keys of one thread (one hash slot). */

/**
 * KEYS: meta, log, idem, counted set. ARGV: epoch for a new log, encoded event, idempotency
 * key ('' for none), maxPerThread, ttlSeconds, '1' to count the set's members (else '0'),
 * the thread's live channel ('' for none), the publish command (PUBLISH, or SPUBLISH in
 * Redis Cluster), '1' to name the cluster node that ran it (else '0'). Returns {1, seq,
 * epoch, count, nil, node} when appended, {0, seq, epoch, count, fields, node} for an
 * idempotent hit; count is -1 when not asked for, node nil.
 *
 * The event is published in the same step as it is stored: no writer can die in between,
 * so an event in the log has always been announced (`cluster/live-messages.ts` has the
 * message format).
 *
 * Lua scripts are not rolled back on error, so nothing that matters is written before XADD,
 * the one command that could fail on bad state: if it fails the head stays where it was.
 * A missing meta hash means the log is new (never written, expired or dropped); leftovers
 * of the stream or the idempotency hash (their expiry is separate) are deleted so nothing
 * of an old epoch leaks into the new one and XADD's ids restart at 1.
 */
export const APPEND = new LuaScript(`
local meta, log, idem = KEYS[1], KEYS[2], KEYS[3]
local node = false
if ARGV[9] == '1' then node = redis.call('CLUSTER', 'MYID') end
local key = ARGV[3]
local count = -1
if ARGV[6] == '1' then count = redis.call('SCARD', KEYS[4]) end
local state = redis.call('HMGET', meta, 'epoch', 'head', 'maxb', 'ttlAt')
local epoch, head = state[1], tonumber(state[2])
local created = not epoch
if created then
  redis.call('DEL', log, idem)
  epoch, head = ARGV[1], 0
elseif key ~= '' then
  local prior = redis.call('HGET', idem, key)
  if prior then
    local found = redis.call('XRANGE', log, prior .. '-0', prior .. '-0')
    if found[1] then return {0, tonumber(prior), epoch, count, found[1][2], node} end
    redis.call('HDEL', idem, key)
  end
end
local seq = head + 1
local max = tonumber(ARGV[4])
-- Stream ids are seqs up to the head, so a log whose head is below the cap is below it too.
local len = head
if head >= max then len = redis.call('XLEN', log) end
if len >= max then
  for _, entry in ipairs(redis.call('XRANGE', log, '-', '+', 'COUNT', len - max + 1)) do
    local fields = entry[2]
    for i = 1, #fields, 2 do
      if fields[i] == 'k' and (redis.call('HGET', idem, fields[i + 1]) or '') .. '-0' == entry[1] then
        redis.call('HDEL', idem, fields[i + 1])
      end
    end
  end
end
local id = string.format('%d-0', seq)
if key ~= '' then
  redis.call('XADD', log, 'MAXLEN', max, id, 'e', ARGV[2], 'k', key)
  redis.call('HSET', idem, key, string.format('%d', seq))
else
  redis.call('XADD', log, 'MAXLEN', max, id, 'e', ARGV[2])
end
local update = {'head', seq}
if created then table.insert(update, 'epoch'); table.insert(update, epoch) end
if #ARGV[2] > (tonumber(state[3]) or 0) then
  table.insert(update, 'maxb'); table.insert(update, #ARGV[2])
end
-- The three keys' TTL is renewed together, at most once per hundredth of it: a log lives
-- ttlSeconds (less at most 1%) after its last append, for one TIME instead of 3 EXPIREs.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local ttl = tonumber(ARGV[5])
local renew = created or not state[4] or now - tonumber(state[4]) >= ttl * 10
if renew then table.insert(update, 'ttlAt'); table.insert(update, now) end
redis.call('HSET', meta, unpack(update))
if renew then
  redis.call('EXPIRE', meta, ttl)
  redis.call('EXPIRE', log, ttl)
  redis.call('EXPIRE', idem, ttl)
end
if ARGV[7] ~= '' then
  redis.call(ARGV[8], ARGV[7], 'e' .. seq .. '\\n' .. epoch .. '\\n' .. ARGV[2])
end
return {1, seq, epoch, count, false, node}
`);

/**
 * KEYS: meta, log, idem. ARGV: epoch for a new log, ttlSeconds. Returns {epoch, head, xlen}.
 * An existing log keeps its TTL: only appends extend a log's life.
 */
export const ENSURE = new LuaScript(`
local meta = redis.call('HMGET', KEYS[1], 'epoch', 'head')
if meta[1] then return {meta[1], tonumber(meta[2]), redis.call('XLEN', KEYS[2])} end
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('HSET', KEYS[1], 'epoch', ARGV[1], 'head', 0)
redis.call('EXPIRE', KEYS[1], ARGV[2])
return {ARGV[1], 0, 0}
`);
