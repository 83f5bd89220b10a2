/** The Server-Sent Events edge cases every run sends, whatever the seed. */
import { RUN_SUFFIX, type Fixture } from './fixture.js';
import type { HttpCase, RouteName } from './http-cases.js';

/**
 * Paths that are not valid percent-encoding and bodies body-parser refuses (answered
 * before any route, in the module's shape all the same), run ids, and each rendering.
 */
export function fixedSseCases(fx: Fixture): HttpCase[] {
  const user = fx.users[0] as string;
  const own = (fx.threadsOf.get(user) as string[])[0] as string;
  const json = { 'content-type': 'application/json' };
  // [route, path, extra headers, body (POST only)]
  const table: Array<[RouteName, string, Record<string, string>, string | null]> = [
    ['sse:events', '/threads/%FF/events', {}, null],
    ['sse:events', `/threads/${own}%ZZ/events`, {}, null],
    ['sse:events', `/threads/${own}${RUN_SUFFIX}/events`, {}, null],
    ['sse:events', `/threads/${fx.runOf.get(user) as string}/events`, {}, null],
    ['sse:events', `/threads/${own}/events?format=ag-ui`, {}, null],
    ['sse:events', `/threads/${own}/events?format=ai-sdk&lastEventId=:0`, {}, null],
    ['sse:events', `/threads/${own}/events`, { 'last-event-id': 'not-a-cursor' }, null],
    ['sse:ticket', '/threads/%FF/stream-tickets', {}, null],
    ['sse:ticket', `/threads/${own}/stream-tickets`, json, '{"a":'],
    ['sse:ticket', `/threads/${own}/stream-tickets`, json, `{"a":"${'z'.repeat(200_000)}"}`],
    [
      'sse:ticket',
      `/threads/${own}/stream-tickets`,
      { 'content-type': 'application/json; charset=iso-8859-1' },
      '{}',
    ],
    ['sse:ticket', `/threads/${own}${RUN_SUFFIX}/stream-tickets`, {}, null],
  ];
  return table.map(([route, path, headers, body]) => {
    const c: HttpCase = {
      route,
      method: route === 'sse:ticket' ? 'POST' : 'GET',
      path,
      headers: { authorization: `Bearer ${fx.tokens.get(user) as string}`, ...headers },
      auth: 'user',
      userId: user,
      threadId: own,
      pathKind: 'fixed',
      sse: { format: /format=([a-z-]+)/.exec(path)?.[1] ?? 'events' },
    };
    if (body !== null) c.body = Buffer.from(body);
    return c;
  });
}
