import { z } from 'zod';
import { givenObject, pickKeys } from './given-object.js';
import { bearerSecret } from './access.schema.js';
import { describe, oneOf } from './option-primitives.js';

/** The options of the `routes` extra, in the order a refused unknown key lists them. */
const ROUTE_OPTIONS = ['prefix', 'health', 'metrics', 'history', 'debug', 'producer'] as const;

const MAX_PREFIX_CHARS = 200;

/** URL-unreserved characters only (RFC 3986), so a prefix never needs escaping in a path. */
const SEGMENT = /^[A-Za-z0-9._~-]+$/;

/**
 * These messages show the refused value as JSON, as they always have; what JSON cannot hold (a
 * bigint, a cycle) as `describe` shows it, since every message is built, not only the first.
 */
function asJson(issue: { input?: unknown }): string {
  try {
    return JSON.stringify(issue.input);
  } catch {
    return describe(issue.input);
  }
}

const trimSlashes = (prefix: string): string => prefix.replace(/^\/+|\/+$/g, '');

function isRoutePath(path: string): boolean {
  return (
    path.length <= MAX_PREFIX_CHARS &&
    path.split('/').every((segment) => SEGMENT.test(segment) && segment !== '.' && segment !== '..')
  );
}

const notPrefix = (issue: { input?: unknown }): string =>
  `must be a path of segments of letters, digits and . _ ~ - (not . or ..), e.g. "relay" or "api/relay", got ${asJson(issue)}`;

/** `relay`, `/relay/` and `api/relay`; the message shows the prefix as given, slashes and all. */
const prefix = z
  .string({ error: notPrefix })
  .refine((value) => isRoutePath(trimSlashes(value)), { error: notPrefix })
  .transform(trimSlashes);

/** A group of routes is mounted unless set to false. */
const routeGroup = z
  .boolean({ error: (issue) => `must be true or false, got ${asJson(issue)}` })
  .default(true);

/** `true`, `false` or `{ token }`; other keys beside `token` are ignored. */
const metrics = oneOf<{ token: string | null } | null>(
  [
    {
      matches: (value) => value === undefined || value === true,
      schema: z.unknown().transform(() => ({ token: null })),
    },
    { matches: (value) => value === false, schema: z.unknown().transform(() => null) },
    {
      matches: (value) => typeof value === 'object' && value !== null,
      schema: z
        .custom<object>()
        .transform(pickKeys(['token']))
        .pipe(z.object({ token: bearerSecret })),
    },
  ],
  () => 'must be true, false or { token }',
);

/** Only the first unknown key is named, before any known one is checked. */
function refuseUnknownOptions(routes: object, ctx: z.RefinementCtx): void {
  const known: readonly string[] = ROUTE_OPTIONS;
  const unknown = Object.keys(routes).find((key) => !known.includes(key));
  if (unknown !== undefined) {
    ctx.addIssue({
      code: 'custom',
      path: [unknown],
      message: `is not an option (${ROUTE_OPTIONS.join(', ')})`,
    });
  }
}

/** Checked in this order, and the first refusal is the one reported. */
const routeOptions = z.object({
  prefix: prefix.optional(),
  metrics,
  health: routeGroup,
  history: routeGroup,
  debug: routeGroup,
  producer: routeGroup,
});

/**
 * The `routes` extra of `forRoot`/`forRootAsync` (`RelayRoutes` in, `ResolvedRelayRoutes`
 * out), parsed as `{ routes }` so that every message names `routes.…`. Absent, every group is
 * mounted at the root.
 */
export const routesExtraSchema = z.object({
  routes: givenObject('must be an object')
    .superRefine(refuseUnknownOptions)
    .transform(pickKeys(ROUTE_OPTIONS))
    .pipe(routeOptions)
    // No prefix is null; the keys in the order `ResolvedRelayRoutes` lists them.
    .transform((routes) => ({
      prefix: routes.prefix ?? null,
      health: routes.health,
      metrics: routes.metrics,
      history: routes.history,
      debug: routes.debug,
      producer: routes.producer,
    }))
    .prefault({}),
});
