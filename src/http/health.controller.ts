import { Controller, Get, Header, Inject, Res } from '@nestjs/common';
import type { Response } from 'express';
import { RedisHealthService } from '../redis/redis-health.service.js';
import { type ResolvedRelayOptions } from '../thread-relay.options.js';
import { RELAY_OPTIONS } from '../thread-relay.constants.js';

@Controller()
export class HealthController {
  constructor(
    private readonly redisHealth: RedisHealthService,
    @Inject(RELAY_OPTIONS) private readonly options: ResolvedRelayOptions,
  ) {}

  /** 200 when this instance can deliver; 503 while its Redis is unreachable or not answering. */
  @Get('health')
  @Header('Cache-Control', 'no-store')
  health(@Res({ passthrough: true }) response: Response): object {
    const up = this.redisHealth.redisUp;
    if (up === null)
      return {
        status: 'ok',
        redis: 'disabled',
        mode: 'memory',
        instanceId: this.options.instanceId,
      };
    if (!up) response.status(503);
    return {
      status: up ? 'ok' : 'degraded',
      redis: up ? 'up' : 'down',
      mode: 'redis',
      instanceId: this.options.instanceId,
    };
  }
}
