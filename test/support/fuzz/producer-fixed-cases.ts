/** The producer API edge cases every run sends, whatever the seed. */
import { RUN_SUFFIX, type Fixture } from './fixture.js';
import { deepNesting } from './fuzz-input.js';
import type { HttpCase } from './http-cases.js';
import { PRODUCER_MAX_BODY_BYTES } from './producer-bodies.js';
import type { ProducerRoute } from './producer-cases.js';
import { PRODUCER_KEY } from '../producer-http.js';

/**
 * What random requests reach only now and then: a send repeated with its key (a
 * duplicate), a batch that all goes through, one of 500 events and one of 501, bodies
 * above `producer.maxBodyBytes`, run-form ids and another user's thread as targets.
 */
export function fixedProducerCases(fx: Fixture): HttpCase[] {
  const [first, second] = fx.users as [string, string];
  const own = (fx.threadsOf.get(first) as string[])[0] as string;
  const others = (fx.threadsOf.get(second) as string[])[1] as string;
  const runForm = `${own}${RUN_SUFFIX}`;
  const event = (n: number, extra: object = {}) => ({ type: 'fz.fixed', payload: { n }, ...extra });
  const items = (count: number) =>
    Array.from({ length: count }, (_, n) => ({ target: n % 2 ? own : others, ...event(n) }));
  const json = { 'content-type': 'application/json' };
  // [route, method, path, extra headers, body]
  const table: Array<[ProducerRoute, HttpCase['method'], string, object, unknown]> = [
    [
      'producer:send',
      'POST',
      `/v1/threads/${own}/events`,
      json,
      event(1, { idempotencyKey: 'fx-dup' }),
    ],
    [
      'producer:send',
      'POST',
      `/v1/threads/${own}/events`,
      json,
      event(1, { idempotencyKey: 'fx-dup' }),
    ],
    [
      'producer:send',
      'POST',
      `/v1/threads/${others}/events`,
      { ...json, 'idempotency-key': 'fx-h' },
      event(2),
    ],
    [
      'producer:send',
      'POST',
      `/v1/threads/${others}/events`,
      { ...json, 'idempotency-key': 'fx-h' },
      event(2),
    ],
    [
      'producer:send',
      'POST',
      `/v1/threads/${own}/events`,
      { ...json, 'idempotency-key': 'fx-a' },
      event(3, { idempotencyKey: 'fx-b' }),
    ],
    ['producer:send', 'POST', `/v1/threads/${runForm}/events`, json, event(4)],
    ['producer:send', 'POST', '/v1/threads/T_run_1700000000000_abcdef/events', json, event(5)],
    ['producer:send', 'POST', `/v1/threads/${own}/events`, json, { type: 'fz.fixed' }],
    [
      'producer:send',
      'POST',
      `/v1/threads/${own}/events`,
      json,
      `{"type":"x","payload":${deepNesting(20_000).text}}`,
    ],
    [
      'producer:send',
      'POST',
      `/v1/threads/${own}/events`,
      json,
      `{"type":"fz.big","payload":"${'z'.repeat(70_000)}"}`,
    ],
    [
      'producer:send',
      'POST',
      `/v1/threads/${own}/events`,
      json,
      `{"type":"fz.big","payload":"${'z'.repeat(PRODUCER_MAX_BODY_BYTES)}"}`,
    ],
    ['producer:batch', 'POST', '/v1/events', json, { events: items(3) }],
    ['producer:batch', 'POST', '/v1/events', json, { events: items(500) }],
    ['producer:batch', 'POST', '/v1/events', json, { events: items(501) }],
    [
      'producer:batch',
      'POST',
      '/v1/events',
      json,
      { events: [{ target: runForm, ...event(6) }, 7] },
    ],
    [
      'producer:thread',
      'PUT',
      `/v1/threads/${own}`,
      json,
      { ownerId: first, metadata: { a: 'b' } },
    ],
    ['producer:thread', 'PUT', `/v1/threads/${own}`, json, { ownerId: second }],
    ['producer:thread', 'PUT', '/v1/threads/fz-fixed-new', json, { ownerId: first }],
    ['producer:thread', 'PUT', `/v1/threads/${runForm}`, json, { ownerId: first }],
    ['producer:run', 'PUT', '/v1/runs/fz-fixed-run', json, { threadId: own }],
    ['producer:run', 'PUT', '/v1/runs/fz-fixed-run', json, { threadId: others }],
    ['producer:run', 'PUT', `/v1/runs/${others}`, json, { threadId: own }],
    ['producer:run', 'PUT', '/v1/runs/fz-fixed-run-2', json, { threadId: 'fz-no-such-thread' }],
    ['producer:delivery', 'GET', `/v1/threads/${own}/delivery?seq=1&waitMs=0`, {}, undefined],
    ['producer:delivery', 'GET', `/v1/threads/${own}/delivery?seq=0`, {}, undefined],
    ['producer:delivery', 'GET', `/v1/threads/${own}/delivery?seq=1&waitMs=30001`, {}, undefined],
    ['producer:user', 'POST', `/v1/users/${second}/events`, json, event(8)],
    [
      'producer:user',
      'POST',
      `/v1/users/${second}/events`,
      json,
      event(8, { idempotencyKey: 'k' }),
    ],
  ];
  return table.map(([route, method, path, headers, body]) => {
    const c: HttpCase = {
      route,
      method,
      path,
      headers: { authorization: `Bearer ${PRODUCER_KEY}`, ...headers },
      auth: 'producer',
      pathKind: 'fixed',
    };
    if (body !== undefined) {
      c.body = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    }
    return c;
  });
}
