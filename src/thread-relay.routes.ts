import type { DynamicModule, Provider, Type } from '@nestjs/common';
import { RouterModule } from '@nestjs/core';
import { DebugController } from './http/debug.controller.js';
import { HealthController } from './http/health.controller.js';
import { HistoryController } from './http/history.controller.js';
import { MetricsController } from './http/metrics.controller.js';
import { type MetricsAccess } from './http/metrics-access.js';
import { invalidOptionError } from './options/option-name.js';
import { routesExtraSchema } from './options/routes-extra.schema.js';
import { METRICS_ACCESS } from './thread-relay.constants.js';
import { ProducerController } from './http/producer/producer.controller.js';
import { SseController } from './sse/sse.controller.js';

/**
 * Which of the module's HTTP routes the host app mounts, and under which path. Structural,
 * so it is given beside the options (`forRoot({ ..., routes })`, also with
 * `forRootAsync`), never from a factory: the routes exist before any factory runs.
 */
export interface RelayRoutes {
  /** A path every route hangs under, e.g. `relay` for `/relay/health` (default none). */
  prefix?: string;
  /** `GET /health` (default true). */
  health?: boolean;
  /**
   * `GET /metrics` (default true: open to whoever reaches the port). `{ token }` asks for
   * `Authorization: Bearer <token>` (at least 16 characters), as Prometheus'
   * `authorization` scrape setting sends; false leaves it out.
   */
  metrics?: boolean | { token: string };
  /** `/threads/*`: history, REST send, Server-Sent Events and stream tickets (default true). */
  history?: boolean;
  /** `/debug/websocket/*` (default true; still 404 without `debug.adminToken`). */
  debug?: boolean;
  /** `/v1/*`, the producer API (default true; still 404 without `producer.apiKeys`). */
  producer?: boolean;
}

export interface ResolvedRelayRoutes {
  prefix: string | null;
  health: boolean;
  metrics: { token: string | null } | null;
  history: boolean;
  debug: boolean;
  producer: boolean;
}

/** Applies the defaults and checks every route option; throws `InvalidOptionError` naming the first bad one. */
export function resolveRelayRoutes(routes: RelayRoutes | undefined): ResolvedRelayRoutes {
  const result = routesExtraSchema.safeParse({ routes });
  if (!result.success) throw invalidOptionError(result.error);
  return result.data.routes;
}

/** The controllers, providers and imports that mount the chosen routes on `module`. */
export function relayRouteParts(
  module: Type,
  routes: ResolvedRelayRoutes,
): Pick<DynamicModule, 'controllers' | 'providers' | 'imports'> {
  const controllers: Type[] = [
    ...(routes.history ? [HistoryController, SseController] : []),
    ...(routes.debug ? [DebugController] : []),
    ...(routes.health ? [HealthController] : []),
    ...(routes.metrics ? [MetricsController] : []),
    ...(routes.producer ? [ProducerController] : []),
  ];
  const access: MetricsAccess = { token: routes.metrics?.token ?? null };
  const providers: Provider[] = [{ provide: METRICS_ACCESS, useValue: access }];
  const imports = routes.prefix ? [RouterModule.register([{ path: routes.prefix, module }])] : [];
  return { controllers, providers, imports };
}
