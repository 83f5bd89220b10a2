import { createHash, timingSafeEqual } from 'node:crypto';
import { Controller, Get, Header, Inject, Req, Res, UnauthorizedException } from '@nestjs/common';
import type { Request, Response } from 'express';
import { bearerToken } from './http-user-auth.service.js';
import { type MetricsAccess } from './metrics-access.js';
import { METRICS_ACCESS } from '../thread-relay.constants.js';
import { RelayMetrics } from '../observability/relay-metrics.service.js';

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/**
 * `GET /metrics`: Prometheus text exposition of the module's own registry. Open unless
 * `routes.metrics.token` is set; then only `Authorization: Bearer <token>` reads it
 * (digests compared, so the check takes the same time whatever the guess).
 */
@Controller()
export class MetricsController {
  private readonly expected: Buffer | null;

  constructor(
    private readonly metrics: RelayMetrics,
    @Inject(METRICS_ACCESS) access: MetricsAccess,
  ) {
    this.expected = access.token === null ? null : digest(access.token);
  }

  @Get('metrics')
  @Header('Cache-Control', 'no-store')
  async scrape(
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ): Promise<string> {
    if (this.expected) {
      const token = bearerToken(request);
      if (!token || !timingSafeEqual(digest(token), this.expected)) {
        response.setHeader('WWW-Authenticate', 'Bearer realm="metrics"');
        throw new UnauthorizedException('metrics token required');
      }
    }
    const body = await this.metrics.text();
    response.setHeader('Content-Type', this.metrics.contentType);
    return body;
  }
}
