import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { Response } from 'express';
import type { RedisBackend } from '../redis/redis-backend.js';
import { RELAY_OPTIONS, type ResolvedRelayOptions } from '../thread-relay.options.js';
import { RELAY_REDIS } from '../thread-relay.providers.js';

@Controller()
export class HealthController {
  constructor(
    @Inject(RELAY_REDIS) private readonly redis: RedisBackend | null,
    @Inject(RELAY_OPTIONS) private readonly options: ResolvedRelayOptions,
  ) {}

  /** 200 when this instance can deliver; 503 when its Redis is unreachable. */
  @Get('health')
  health(@Res({ passthrough: true }) response: Response): object {
    if (!this.redis)
      return {
        status: 'ok',
        redis: 'disabled',
        mode: 'memory',
        instanceId: this.options.instanceId,
      };
    const up = this.redis.connections.commands.status === 'ready';
    if (!up) response.status(503);
    return {
      status: up ? 'ok' : 'degraded',
      redis: up ? 'up' : 'down',
      mode: 'redis',
      instanceId: this.options.instanceId,
    };
  }
}
