/**
 * The random requests of the producer API (`/v1/*`): a route, the ids in its path (thread,
 * run and user ids of anyone, run-form ids, invalid ones), a producer key that may be
 * wrong (a user JWT, the admin token, garbage), an `Idempotency-Key`, and a body.
 */
import { idChars, percentEncode, randomString, toJsonText, type Rng } from './fuzz-input.js';
import { pickThreadId, RUN_SUFFIX, type Fixture } from './fixture.js';
import {
  pathSegment,
  queryString,
  queryValue,
  type HttpCase,
  type RouteName,
} from './http-cases.js';
import { pickIdempotencyKey, producerBody } from './producer-bodies.js';
import { PRODUCER_KEY } from '../producer-http.js';
import { TEST_ADMIN_TOKEN } from '../relay-app.js';

export type ProducerRoute = Extract<RouteName, `producer:${string}`>;

function pickProducerAuth(rng: Rng, fx: Fixture): Pick<HttpCase, 'headers' | 'auth'> {
  return rng.weighted<() => Pick<HttpCase, 'headers' | 'auth'>>([
    [80, () => ({ headers: { authorization: `Bearer ${PRODUCER_KEY}` }, auth: 'producer' })],
    [3, () => ({ headers: { authorization: `bearer   ${PRODUCER_KEY} ` }, auth: 'producer' })],
    [4, () => ({ headers: {}, auth: 'none' })],
    [
      13,
      () => ({
        headers: {
          authorization: rng.pick([
            `Bearer ${fx.tokens.get(rng.pick(fx.users)) as string}`,
            `Bearer ${TEST_ADMIN_TOKEN}`,
            `Bearer ${rng.pick(fx.badTokens)}`,
            `Bearer ${PRODUCER_KEY}x`,
            `Bearer ${PRODUCER_KEY.slice(0, -1)}`,
            `Basic ${Buffer.from(`p:${PRODUCER_KEY}`).toString('base64')}`,
            PRODUCER_KEY,
            `Bearer ${percentEncode(randomString(rng, 40))}`,
          ]),
        },
        auth: 'bad',
      }),
    ],
  ])();
}

/** A run id to register: new, run-form (its thread's or nobody's), taken, or invalid. */
export function pickRunId(rng: Rng, fx: Fixture): unknown {
  const user = rng.pick(fx.users);
  const own = fx.threadsOf.get(user) ?? [];
  return rng.weighted<() => unknown>([
    [30, () => `fz-prun-${idChars(rng, rng.range(1, 8))}`],
    [10, () => `${rng.pick(own)}${RUN_SUFFIX}`],
    [8, () => `T_run_1700000000000_abcdef`],
    [10, () => fx.runOf.get(user)],
    [12, () => rng.pick(own)],
    [30, () => pickThreadId(rng, fx, user, false).id],
  ])();
}

/** A user id for a live-only event: a fixture user, someone unknown, or no valid id. */
function pickUserId(rng: Rng, fx: Fixture): unknown {
  return rng.weighted<() => unknown>([
    [50, () => rng.pick(fx.users)],
    [15, () => `fz-nobody-${idChars(rng, 6)}`],
    [5, () => `u${idChars(rng, 200)}`],
    [30, () => pickThreadId(rng, fx, rng.pick(fx.users), false).id],
  ])();
}

/** `?seq=&waitMs=`: mostly valid, and never a wait long enough to slow the run. */
function deliveryQuery(rng: Rng, fx: Fixture, threadId: unknown): string {
  const head = (typeof threadId === 'string' ? fx.logs.get(threadId)?.head : undefined) ?? 1;
  const parts: string[] = [];
  if (rng.chance(0.9)) {
    const seq = rng.weighted<() => string>([
      [50, () => String(rng.range(1, head + 1))],
      [10, () => String(head + 1000)],
      [5, () => '999999999999999'],
      [5, () => '1000000000000000'],
      [30, () => queryValue(rng)],
    ])();
    parts.push(`seq=${seq}`);
  }
  if (rng.chance(0.6)) {
    const wait = rng.weighted<() => string>([
      [40, () => String(rng.int(30))],
      [10, () => '0'],
      [20, () => rng.pick(['30001', '999999', '1000000', '-1', '1.5', '1e3', ''])],
      [30, () => queryValue(rng).replace(/^\d{3,}$/, '7')],
    ])();
    parts.push(`waitMs=${wait}`);
  }
  const extra = rng.chance(0.1) ? queryString(rng, ['seq', 'x']).slice(1) : '';
  if (extra !== '') parts.push(extra);
  return parts.length > 0 ? `?${parts.join('&')}` : '';
}

export function producerCase(rng: Rng, fx: Fixture): HttpCase {
  const route = rng.weighted<ProducerRoute>([
    [35, 'producer:send'],
    [14, 'producer:batch'],
    [14, 'producer:thread'],
    [10, 'producer:run'],
    [15, 'producer:delivery'],
    [12, 'producer:user'],
  ]);
  const { headers, auth } = pickProducerAuth(rng, fx);
  const id =
    route === 'producer:run'
      ? pickRunId(rng, fx)
      : route === 'producer:user'
        ? pickUserId(rng, fx)
        : pickThreadId(rng, fx, rng.pick(fx.users), false).id;
  const segment = pathSegment(rng, id);
  let path: string;
  let method: HttpCase['method'] = 'POST';
  switch (route) {
    case 'producer:thread':
      path = `/v1/threads/${segment.segment}`;
      method = 'PUT';
      break;
    case 'producer:run':
      path = `/v1/runs/${segment.segment}`;
      method = 'PUT';
      break;
    case 'producer:send':
      path = `/v1/threads/${segment.segment}/events`;
      break;
    case 'producer:batch':
      path = '/v1/events';
      break;
    case 'producer:delivery':
      path = `/v1/threads/${segment.segment}/delivery${deliveryQuery(rng, fx, segment.decoded)}`;
      method = 'GET';
      break;
    case 'producer:user':
      path = `/v1/users/${segment.segment}/events`;
      break;
  }
  const c: HttpCase = {
    route,
    method,
    path,
    headers,
    auth,
    pathKind: route === 'producer:batch' ? 'fixed' : segment.kind,
    threadId: route === 'producer:batch' ? undefined : segment.decoded,
  };
  if (route === 'producer:send' && rng.chance(0.25)) {
    const key = pickIdempotencyKey(rng);
    const text = typeof key === 'string' ? key : toJsonText(key);
    c.headers['idempotency-key'] = text.replace(/[^\t\x20-\x7e]/g, '?');
  }
  if (method !== 'GET' || rng.chance(0.05)) {
    const body = producerBody(rng, route, fx);
    Object.assign(c.headers, body.headers);
    if (body.body !== undefined) c.body = body.body;
    // Node sends a GET body without framing unless told its length: the server would
    // read it as the next request.
    if (method === 'GET') c.headers['content-length'] = String(c.body?.length ?? 0);
  }
  return c;
}
