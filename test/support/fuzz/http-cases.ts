/**
 * The random HTTP requests of the fuzz: a route, a path segment (sometimes hostile), a
 * query, a credential that may be wrong, headers, and for POST routes a body.
 */
import { percentEncode, randomString, type Rng } from './fuzz-input.js';
import { pickThreadId, type Fixture } from './fixture.js';
import { bodyFor } from './http-bodies.js';
import { TEST_ADMIN_TOKEN } from '../relay-app.js';

export type RouteName =
  | 'history:get'
  | 'history:post'
  | 'debug:connections'
  | 'debug:threads'
  | 'debug:mappings'
  | 'debug:send'
  | 'health'
  | 'metrics'
  | 'sse:events'
  | 'sse:ticket'
  | 'producer:thread'
  | 'producer:run'
  | 'producer:send'
  | 'producer:batch'
  | 'producer:delivery'
  | 'producer:user';

export interface HttpCase {
  route: RouteName;
  method: 'GET' | 'POST' | 'PUT';
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** What the request carries, for reports and oracles. */
  auth: 'user' | 'other-user' | 'admin' | 'producer' | 'ticket' | 'bad' | 'none';
  userId?: string;
  threadId?: unknown;
  /** Whether the segment reached the route as a plain (decodable) id. */
  pathKind: string;
  /** SSE: the rendering asked for, and the stream ticket the request spends. */
  sse?: { format: string; ticket?: TicketUse };
}

/**
 * A stream ticket a case spends, bought just before it is sent (tickets are single use):
 * `fresh` for `userId`'s `threadId`, `spent` one that was redeemed already. The path
 * holds `TICKET_SLOT` where it goes.
 */
export interface TicketUse {
  kind: 'fresh' | 'spent';
  userId: string;
  threadId: string;
}
export const TICKET_SLOT = '{ticket}';

/** A path segment for a thread id: usually its encoding, sometimes a hostile one. */
export function pathSegment(
  rng: Rng,
  id: unknown,
): { segment: string; kind: string; decoded: unknown } {
  const text = typeof id === 'string' ? id : (JSON.stringify(id) ?? 'undefined');
  return rng.weighted<() => { segment: string; kind: string; decoded: unknown }>([
    [70, () => ({ segment: percentEncode(text) || '%20', kind: 'encoded', decoded: text || ' ' })],
    [
      5,
      () => ({
        segment: percentEncode(`${text}/x`),
        kind: 'encoded-slash',
        decoded: `${text}/x`,
      }),
    ],
    [3, () => ({ segment: '..', kind: 'dots', decoded: '..' })],
    [2, () => ({ segment: '.', kind: 'dots', decoded: '.' })],
    [3, () => ({ segment: '%2e%2e', kind: 'dots', decoded: '..' })],
    [
      5,
      () => ({
        segment: rng.pick([
          '%',
          '%ZZ',
          '%E0%A4',
          '%FF',
          `${percentEncode(text)}%C0%AF`,
          '%%',
          '%u0041',
        ]),
        kind: 'bad-percent',
        decoded: undefined,
      }),
    ],
    [3, () => ({ segment: '%00', kind: 'nul', decoded: '\u0000' })],
    [
      3,
      () => ({
        segment: `${percentEncode(text)}%252F`,
        kind: 'double-encoded',
        decoded: `${text}%2F`,
      }),
    ],
    [
      3,
      () => {
        const long = 'A'.repeat(rng.range(201, 4000));
        return { segment: long, kind: 'long', decoded: long };
      },
    ],
    [
      3,
      () => ({
        segment: percentEncode(randomString(rng, 40)) || 'x',
        kind: 'random',
        decoded: undefined,
      }),
    ],
  ])();
}

export function queryValue(rng: Rng): string {
  return rng.weighted<() => string>([
    [20, () => String(rng.int(50))],
    [5, () => '0'],
    [5, () => ''],
    [5, () => String(rng.pick([1e15, 999999999999999, 1e16, 2 ** 53, 1000000, 1001]))],
    [5, () => rng.pick(['-1', '1.5', '1e3', '0x10', ' 1', '+1', 'NaN', 'Infinity', '-0', '１'])],
    [10, () => percentEncode(randomString(rng, 30))],
    [3, () => rng.pick(['%ZZ', '%', '%FF', '%00'])],
    [
      3,
      () =>
        String(rng.pick(['18446744073709551615', '18446744073709551616', '99999999999999999999'])),
    ],
    [2, () => '9'.repeat(rng.range(16, 25))],
    [2, () => 'x'.repeat(rng.range(100, 1000))],
  ])();
}

export function queryString(rng: Rng, names: string[]): string {
  const parts: string[] = [];
  for (const name of names) {
    if (rng.chance(0.45)) continue;
    const shape = rng.int(10);
    if (shape === 0) parts.push(`${name}=${queryValue(rng)}`, `${name}=${queryValue(rng)}`);
    else if (shape === 1) parts.push(`${name}[]=${queryValue(rng)}`);
    else if (shape === 2) parts.push(`${name}[a]=${queryValue(rng)}`);
    else if (shape === 3) parts.push(name);
    else parts.push(`${name}=${queryValue(rng)}`);
  }
  if (rng.chance(0.1)) parts.push(`${percentEncode(randomString(rng, 10))}=${queryValue(rng)}`);
  if (rng.chance(0.03)) parts.push('__proto__[x]=1', 'constructor[prototype][y]=1');
  return parts.length > 0 ? `?${parts.join('&')}` : '';
}

/** The Authorization header (if any) and what it amounts to for `route`. */
export function pickAuth(
  rng: Rng,
  fx: Fixture,
  admin: boolean,
): { headers: Record<string, string>; auth: HttpCase['auth']; userId?: string } {
  const user = rng.pick(fx.users);
  const right = admin ? TEST_ADMIN_TOKEN : (fx.tokens.get(user) as string);
  const choice = rng.weighted<() => ReturnType<typeof pickAuth>>([
    [
      62,
      () => ({
        headers: { authorization: `Bearer ${right}` },
        auth: admin ? 'admin' : 'user',
        userId: user,
      }),
    ],
    [
      4,
      () => ({
        headers: { authorization: `${rng.pick(['bearer', 'BEARER'])}   ${right}  ` },
        auth: admin ? 'admin' : 'user',
        userId: user,
      }),
    ],
    [6, () => ({ headers: {}, auth: 'none' })],
    [
      8,
      () => ({
        headers: {
          authorization: `Bearer ${admin ? (fx.tokens.get(user) as string) : TEST_ADMIN_TOKEN}`,
        },
        auth: 'bad',
      }),
    ],
    [
      8,
      () => ({
        headers: {
          authorization: `Bearer ${rng.pick(fx.badTokens.filter((t) => !admin || t !== TEST_ADMIN_TOKEN))}`,
        },
        auth: 'bad',
      }),
    ],
    [
      8,
      () => ({
        headers: {
          authorization: rng.pick([
            'Bearer',
            'Bearer ',
            `Basic ${Buffer.from('a:b').toString('base64')}`,
            `Bearer ${right} extra`,
            `Token ${right}`,
            right,
            `Bearer ${percentEncode(randomString(rng, 50))}`,
            `Bearer ${'\u00e9'.repeat(10)}`,
          ]),
        },
        auth: 'bad',
      }),
    ],
    [
      4,
      () => ({
        headers: { authorization: `Bearer ${'y'.repeat(rng.range(4000, 6000))}` },
        auth: 'bad',
      }),
    ],
  ])();
  return choice;
}

export function httpCase(rng: Rng, fx: Fixture): HttpCase {
  const route = rng.weighted<RouteName>([
    [32, 'history:get'],
    [32, 'history:post'],
    [5, 'debug:connections'],
    [5, 'debug:threads'],
    [5, 'debug:mappings'],
    [16, 'debug:send'],
    [3, 'health'],
    [2, 'metrics'],
  ]);
  const admin = route.startsWith('debug:');
  const open = route === 'health' || route === 'metrics';
  const { headers, auth, userId } = open
    ? {
        headers: rng.chance(0.5) ? { authorization: `Bearer ${rng.pick(fx.badTokens)}` } : {},
        auth: 'none' as const,
        userId: undefined,
      }
    : pickAuth(rng, fx, admin);
  if (rng.chance(0.1)) {
    headers[
      rng.pick(['x-forwarded-for', 'accept', 'cookie', 'x-request-id', 'origin', 'user-agent'])
    ] = randomString(rng, 60).replace(/[^\t\x20-\x7e\x80-\xff]/g, '?');
  }
  if (rng.chance(0.05))
    headers.accept = rng.pick(['text/html', 'application/xml', '*/*', 'image/png']);
  let path: string;
  let threadId: unknown;
  let pathKind = 'plain';
  switch (route) {
    case 'history:get':
    case 'history:post': {
      const picked = pickThreadId(rng, fx, userId ?? rng.pick(fx.users), false);
      const segment = pathSegment(rng, picked.id);
      threadId = segment.decoded;
      pathKind = segment.kind;
      path = `/threads/${segment.segment}/messages${rng.chance(0.05) ? '/' : ''}`;
      if (route === 'history:get') path += queryString(rng, ['after', 'limit']);
      else if (rng.chance(0.1)) path += queryString(rng, ['after']);
      break;
    }
    case 'debug:connections':
    case 'debug:threads':
    case 'debug:mappings':
      path = `/debug/websocket/${route.slice(6)}${queryString(rng, ['limit', 'cursor'])}`;
      break;
    case 'debug:send':
      path = '/debug/websocket/send';
      break;
    default:
      path = `/${route}${queryString(rng, ['x'])}`;
  }
  const c: HttpCase = {
    route,
    method: route === 'history:post' || route === 'debug:send' ? 'POST' : 'GET',
    path,
    headers,
    auth,
    pathKind,
    threadId,
    ...(userId === undefined ? {} : { userId }),
  };
  if (c.method === 'POST') {
    const body = bodyFor(rng, route, fx, userId);
    Object.assign(c.headers, body.headers);
    if (body.body !== undefined) c.body = body.body;
  }
  return c;
}
