import { Body, Controller, Post } from '@nestjs/common';
import { signUserToken } from '../src/index.js';
import { TEST_ADMIN_TOKEN, TEST_JWT_SECRET, type RelayApp } from './support/relay-app.js';
import { useRelayApp } from './support/use-relay-app.js';

/** A route of the host app's own, which must keep Nest's error answers. */
@Controller('host')
class HostController {
  @Post('echo')
  echo(@Body() body: unknown): unknown {
    return { echoed: body };
  }
}

/** The relay plus a host controller and an optional global prefix. */
function useHostApp(prefix?: string): RelayApp {
  return useRelayApp(
    { debug: { adminToken: TEST_ADMIN_TOKEN } },
    {
      controllers: [HostController],
      configure: (app) => {
        if (prefix) app.setGlobalPrefix(prefix);
      },
    },
  );
}

const INVALID_JSON = '{bad-json-marker';
/** Over express's default 100 kB JSON limit. */
const OVERSIZED = JSON.stringify({ text: 'x'.repeat(150 * 1024) });

interface Answer {
  status: number;
  body: unknown;
  text: string;
}

async function post(
  url: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = text;
  }
  return { status: response.status, body: parsed, text };
}

describe('body-parser errors on the module routes', () => {
  let user: Record<string, string>;
  const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };

  const host = useHostApp();
  beforeAll(async () => {
    user = { authorization: `Bearer ${await signUserToken('u-body', TEST_JWT_SECRET)}` };
  });

  const moduleRoutes = (): Array<[string, Record<string, string>]> => [
    ['/threads/t-body/messages', user],
    ['/debug/websocket/send', admin],
  ];

  it('answers invalid JSON with 400 BAD_REQUEST in the module shape, without echoing the body', async () => {
    for (const [path, auth] of moduleRoutes()) {
      const answer = await post(`${host.url}${path}`, INVALID_JSON, auth);
      expect([path, answer.status]).toEqual([path, 400]);
      expect(answer.body).toEqual({
        ok: false,
        error: { code: 'BAD_REQUEST', message: expect.stringMatching(/not valid JSON/) as unknown },
      });
      expect(answer.text).not.toContain('bad-json-marker');
    }
  });

  it('answers an oversized body with 413 PAYLOAD_TOO_LARGE naming the limit', async () => {
    for (const [path, auth] of moduleRoutes()) {
      const answer = await post(`${host.url}${path}`, OVERSIZED, auth);
      expect([path, answer.status]).toEqual([path, 413]);
      expect(answer.body).toEqual({
        ok: false,
        error: { code: 'PAYLOAD_TOO_LARGE', message: expect.stringContaining('102400') as unknown },
      });
    }
  });

  it('answers an unsupported charset or content encoding with 415 in the module shape', async () => {
    const charset = await post(`${host.url}/threads/t-body/messages`, '{}', {
      ...user,
      'content-type': 'application/json; charset=iso-8859-1',
    });
    const encoding = await post(`${host.url}/threads/t-body/messages`, '{}', {
      ...user,
      'content-encoding': 'bogus',
    });
    for (const answer of [charset, encoding]) {
      expect(answer.status).toBe(415);
      expect(answer.body).toEqual({
        ok: false,
        error: { code: 'BAD_REQUEST', message: expect.any(String) as unknown },
      });
    }
  });

  it("leaves the host app's own routes with Nest's default answers", async () => {
    const invalid = await post(`${host.url}/host/echo`, INVALID_JSON);
    expect(invalid.status).toBe(400);
    expect(invalid.body).toMatchObject({ error: 'Bad Request', statusCode: 400 });
    expect(invalid.body).not.toHaveProperty('ok');
    const oversized = await post(`${host.url}/host/echo`, OVERSIZED);
    expect(oversized.status).toBe(413);
    expect(oversized.body).toMatchObject({ statusCode: 413 });
    expect(oversized.body).not.toHaveProperty('ok');
  });

  it('still serves valid requests', async () => {
    const sent = await post(
      `${host.url}/threads/t-body-valid/messages`,
      JSON.stringify({ text: 'hi', clientMessageId: 'cm-body' }),
      user,
    );
    expect(sent.status).toBe(200);
    expect(sent.body).toMatchObject({ ok: true, seq: 1 });
    const echoed = await post(`${host.url}/host/echo`, JSON.stringify({ a: 1 }));
    expect(echoed.status).toBe(201);
    expect(echoed.body).toEqual({ echoed: { a: 1 } });
  });
});

describe('body-parser errors under a global prefix', () => {
  const host = useHostApp('api');

  it('answers the prefixed module routes in the module shape and host routes as Nest does', async () => {
    const token = await signUserToken('u-prefix', TEST_JWT_SECRET);
    const relay = await post(`${host.url}/api/threads/t-prefix/messages`, INVALID_JSON, {
      authorization: `Bearer ${token}`,
    });
    expect(relay.status).toBe(400);
    expect(relay.body).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    const own = await post(`${host.url}/api/host/echo`, INVALID_JSON);
    expect(own.status).toBe(400);
    expect(own.body).toMatchObject({ error: 'Bad Request', statusCode: 400 });
  });
});
