import type { DynamicModule, Provider, Type } from '@nestjs/common';
import { RouterModule } from '@nestjs/core';
import { InvalidOptionError } from './errors/invalid-option.error.js';
import { DebugController } from './http/debug.controller.js';
import { HealthController } from './http/health.controller.js';
import { HistoryController } from './http/history.controller.js';
import { MetricsController } from './http/metrics.controller.js';
import { type MetricsAccess } from './http/metrics-access.js';
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

const SEGMENT = /^[A-Za-z0-9._~-]+$/;

function flag(name: string, value: unknown): boolean {
  if (value === undefined) return true;
  if (typeof value !== 'boolean') {
    throw new InvalidOptionError(
      `routes.${name}`,
      `must be true or false, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

export function resolveRelayRoutes(routes: RelayRoutes | undefined): ResolvedRelayRoutes {
  if (routes !== undefined && (typeof routes !== 'object' || routes === null)) {
    throw new InvalidOptionError('routes', 'must be an object');
  }
  const given = routes ?? {};
  const known = new Set(['prefix', 'health', 'metrics', 'history', 'debug', 'producer']);
  const unknown = Object.keys(given).find((key) => !known.has(key));
  if (unknown !== undefined) {
    throw new InvalidOptionError(
      `routes.${unknown}`,
      `is not an option (${[...known].join(', ')})`,
    );
  }
  let prefix: string | null = null;
  if (given.prefix !== undefined) {
    const trimmed = typeof given.prefix === 'string' ? given.prefix.replace(/^\/+|\/+$/g, '') : '';
    if (
      trimmed.length > 200 ||
      !trimmed.split('/').every((s) => SEGMENT.test(s) && s !== '.' && s !== '..')
    ) {
      throw new InvalidOptionError(
        'routes.prefix',
        `must be a path of segments of letters, digits and . _ ~ - (not . or ..), e.g. "relay" or "api/relay", got ${JSON.stringify(given.prefix)}`,
      );
    }
    prefix = trimmed;
  }
  let metrics: ResolvedRelayRoutes['metrics'] = { token: null };
  if (given.metrics === false) metrics = null;
  else if (typeof given.metrics === 'object' && given.metrics !== null) {
    const { token } = given.metrics;
    if (typeof token !== 'string' || token.length < 16) {
      throw new InvalidOptionError(
        'routes.metrics.token',
        'must be a string of at least 16 characters',
      );
    }
    metrics = { token };
  } else if (given.metrics !== undefined && given.metrics !== true) {
    throw new InvalidOptionError('routes.metrics', 'must be true, false or { token }');
  }
  return {
    prefix,
    health: flag('health', given.health),
    metrics,
    history: flag('history', given.history),
    debug: flag('debug', given.debug),
    producer: flag('producer', given.producer),
  };
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
