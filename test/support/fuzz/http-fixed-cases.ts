/** The HTTP edge cases every run sends, whatever the seed. */
import { gzipSync } from 'node:zlib';
import { RUN_SUFFIX, type Fixture } from './fixture.js';
import { deepNesting } from './fuzz-input.js';
import type { HttpCase, RouteName } from './http-cases.js';
import { TEST_ADMIN_TOKEN } from '../relay-app.js';

/** Edge cases every run sends, whatever the seed: the random ones reach them only now and then. */
export function fixedHttpCases(fx: Fixture): HttpCase[] {
  const user = fx.users[0] as string;
  const own = (fx.threadsOf.get(user) as string[])[0] as string;
  const auth = {
    user: { authorization: `Bearer ${fx.tokens.get(user) as string}` },
    admin: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
  };
  const json = { 'content-type': 'application/json' };
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  const message = (id: string) => JSON.stringify({ text: 'fixed', clientMessageId: id });
  const manyParams = Array.from({ length: 1100 }, (_, i) => `k${i}=${i}`).join('&');
  const deepForm = `a${'[b]'.repeat(40)}=1`;
  const deep = deepNesting(30_000).text;
  const send = (body: object) => JSON.stringify({ type: 'fz.fixed', ...body });
  const mine = `/threads/${own}/messages`;
  // [route, path, extra headers, body (POST only), credential]
  const table: Array<
    [RouteName, string, Record<string, string>, string | Buffer | null, 'user' | 'admin' | 'bad']
  > = [
    ['history:get', '/threads/%FF/messages', {}, null, 'user'],
    ['history:get', '/threads/%/messages', {}, null, 'user'],
    ['history:get', `/threads/${own}%ZZ/messages`, {}, null, 'user'],
    ['history:post', '/threads/%E0%A4/messages', json, message('fx-1'), 'user'],
    ['history:get', '/threads/../messages', {}, null, 'user'],
    ['history:get', '/threads/%2e%2e/messages', {}, null, 'user'],
    ['history:get', '/threads/a%2Fb/messages', {}, null, 'user'],
    ['history:get', '/threads/%00/messages', {}, null, 'user'],
    ['history:get', `/threads/${own}${RUN_SUFFIX}/messages`, {}, null, 'user'],
    ['history:get', `${mine}?after=1e3&limit=NaN`, {}, null, 'user'],
    ['history:get', `${mine}?after=999999999999999&limit=99999999999999`, {}, null, 'user'],
    ['history:get', `${mine}?after=-0&limit=-1`, {}, null, 'user'],
    ['history:get', mine, {}, null, 'bad'], // the admin token on a user route
    ['history:post', mine, form, manyParams, 'user'],
    ['history:post', mine, form, deepForm, 'user'],
    ['history:post', mine, form, 'text=form&clientMessageId=fx-form', 'user'],
    ['history:post', mine, { ...json, 'content-encoding': 'gzip' }, message('fx-2'), 'user'],
    ['history:post', mine, { ...json, 'content-encoding': 'deflate' }, message('fx-3'), 'user'],
    ['history:post', mine, { ...json, 'content-encoding': 'br' }, message('fx-4'), 'user'],
    ['history:post', mine, { ...json, 'content-encoding': 'x-fuzz' }, message('fx-5'), 'user'],
    [
      'history:post',
      mine,
      { ...json, 'content-encoding': 'gzip' },
      gzipSync(message('fx-6')),
      'user',
    ],
    [
      'history:post',
      mine,
      { 'content-type': 'application/json; charset=iso-8859-1' },
      message('fx-7'),
      'user',
    ],
    ['history:post', mine, { 'content-type': 'text/plain' }, message('fx-8'), 'user'],
    [
      'history:post',
      mine,
      json,
      `{"text":"${'z'.repeat(200_000)}","clientMessageId":"fx-9"}`,
      'user',
    ],
    [
      'history:post',
      mine,
      json,
      '{"__proto__":{"text":"x"},"text":"y","clientMessageId":"fx-10"}',
      'user',
    ],
    [
      'history:post',
      mine,
      json,
      '{"text":"a","clientMessageId":"fx-11","constructor":{"prototype":{"p":1}}}',
      'user',
    ],
    ['history:post', mine, json, '{"text":"\\ud800","clientMessageId":"fx-12"}', 'user'],
    ['history:post', mine, json, '{"text":1e400,"clientMessageId":"fx-13"}', 'user'],
    ['history:post', mine, json, `{"text":"a","clientMessageId":"fx-14","x":${deep}}`, 'user'],
    [
      'debug:send',
      '/debug/websocket/send',
      { ...json, 'content-encoding': 'gzip' },
      '{"threadId":"x"}',
      'admin',
    ],
    ['debug:send', '/debug/websocket/send', form, manyParams, 'admin'],
    ['debug:send', '/debug/websocket/send', form, deepForm, 'admin'],
    ['debug:send', '/debug/websocket/send', json, send({ threadId: own, payload: 1e308 }), 'admin'],
    [
      'debug:send',
      '/debug/websocket/send',
      json,
      `{"threadId":"${own}","type":"fz.fixed","payload":${deep}}`,
      'admin',
    ],
    [
      'debug:send',
      '/debug/websocket/send',
      json,
      `{"threadId":"${own}","type":"x","payload":{"__proto__":{"p":1}}}`,
      'admin',
    ],
    [
      'debug:send',
      '/debug/websocket/send',
      json,
      send({ threadId: own, runId: fx.runOf.get(user) }),
      'admin',
    ],
    ['debug:send', '/debug/websocket/send', json, send({ runId: `${own}${RUN_SUFFIX}` }), 'admin'],
    [
      'debug:send',
      '/debug/websocket/send',
      json,
      send({ runId: 't1_run_1756919162904_9adf1f09' }),
      'admin',
    ],
    ['debug:connections', '/debug/websocket/connections?limit=0', {}, null, 'admin'],
    ['debug:threads', '/debug/websocket/threads?limit=1000000', {}, null, 'admin'],
    ['debug:mappings', '/debug/websocket/mappings?limit=1000', {}, null, 'admin'],
    ['debug:connections', '/debug/websocket/connections', {}, null, 'bad'], // a user token
  ];
  for (const list of ['connections', 'threads', 'mappings'] as const) {
    for (const cursor of [
      '99999999999999999999',
      '18446744073709551616',
      '18446744073709551615',
      '0',
      '-1',
      'abc',
    ]) {
      table.push([`debug:${list}`, `/debug/websocket/${list}?cursor=${cursor}`, {}, null, 'admin']);
    }
  }
  return table.map(([route, path, headers, body, credential]) => {
    const admin = route.startsWith('debug:');
    // 'bad' is the other kind's credential: a user token on an admin route and vice versa.
    const key = credential === 'bad' ? (admin ? 'user' : 'admin') : credential;
    const c: HttpCase = {
      route,
      method: body === null ? 'GET' : 'POST',
      path,
      headers: { ...auth[key], ...headers },
      auth: credential,
      userId: user,
      threadId: path.startsWith(mine) ? own : undefined,
      pathKind: 'fixed',
    };
    if (body !== null) c.body = Buffer.isBuffer(body) ? body : Buffer.from(body);
    return c;
  });
}
