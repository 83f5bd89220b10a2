import type { RedisClient } from './redis-client.js';
import { LuaScript } from './lua-script.js';
import type { RedisKeys } from './redis-keys.js';
import { asArray, asInteger } from './redis-replies.js';
import type { RateLimitStore } from '../limits/rate-limit-store.interface.js';
import type { BucketRate, TakeResult } from '../limits/token-bucket.js';

/**
 * KEYS: the bucket hash. ARGV: perSecond, burst. A token bucket on the Redis clock (TIME),
 * so instances with skewed clocks share one notion of time. Answers {1, 0} when a token
 * was taken, {0, retryAfterMs} when not. The key expires once the bucket would be full again.
 */
const TAKE = new LuaScript(`
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(b[1]), tonumber(b[2])
if not tokens then tokens, at = burst, now end
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
local ok, wait = 0, 0
if tokens >= 1 then
  tokens = tokens - 1
  ok = 1
else
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) * 1000 / rate) + 1000)
return {ok, wait}
`);

/** Token buckets in Redis, one hash per key (`<p>ratelimit:{key}`), shared by every instance. */
export class RedisRateLimitStore implements RateLimitStore {
  constructor(
    private readonly client: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  async take(key: string, rate: BucketRate): Promise<TakeResult> {
    const reply = asArray(
      await TAKE.run(this.client, [this.keys.rateLimit(key)], [rate.perSecond, rate.burst]),
    );
    return { ok: asInteger(reply[0]) === 1, retryAfterMs: asInteger(reply[1]) };
  }
}
