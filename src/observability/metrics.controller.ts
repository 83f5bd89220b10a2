import { Controller, Get, Header, Res } from '@nestjs/common';
import type { Response } from 'express';
import { RelayMetrics } from './relay-metrics.service.js';

/** `GET /metrics`: Prometheus text exposition of the module's own registry. */
@Controller()
export class MetricsController {
  constructor(private readonly metrics: RelayMetrics) {}

  @Get('metrics')
  @Header('Cache-Control', 'no-store')
  async scrape(@Res({ passthrough: true }) response: Response): Promise<string> {
    const body = await this.metrics.text();
    response.setHeader('Content-Type', this.metrics.contentType);
    return body;
  }
}
