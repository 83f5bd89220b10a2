import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { get as httpGet } from 'node:http';
import { networkInterfaces } from 'node:os';
import type { Socket } from 'socket.io-client';
import { connectSocket } from '../support/relay-app.js';
import { startReferenceServer, type ReferenceServer } from './support/reference-server.js';

/**
 * The incident runbook's `curl -s localhost:8000/debug/websocket/connections | jq` against
 * the reference server. The servers listen on every interface, as `npm start` does, so a
 * client can also come from this machine's non-loopback address.
 */

const ADMIN_TOKEN = 'admin-token-for-the-runbook-0123';
const PROD_SECRET = 'a-production-secret-of-at-least-32-bytes';
const CONNECTIONS = '/debug/websocket/connections';

/**
 * This machine's first non-loopback address. Fails (never skips) without one: the
 * refusal of remote clients is what these tests are for.
 */
function nonLoopbackAddress(): string {
  const candidates = Object.values(networkInterfaces())
    .flatMap((addresses) => addresses ?? [])
    .filter((a) => !a.internal && !a.address.startsWith('fe80:'));
  const chosen = candidates.find((a) => a.family === 'IPv4') ?? candidates[0];
  if (!chosen) {
    throw new Error(
      'no non-loopback network address on this machine (os.networkInterfaces() lists only ' +
        'loopback): these tests connect through one to act as a remote client. Bring up a ' +
        'network interface (even a dummy one: ip link add dummy0 type dummy && ip addr add ' +
        '192.0.2.10/24 dev dummy0 && ip link set dummy0 up) and run them again.',
    );
  }
  return chosen.family === 'IPv4' ? chosen.address : `[${chosen.address}]`;
}

interface Clients {
  loopback: string;
  remote: string;
}

function clientsOf(server: ReferenceServer): Clients {
  return {
    loopback: `http://127.0.0.1:${server.port}`,
    remote: `http://${nonLoopbackAddress()}:${server.port}`,
  };
}

/**
 * The status of a GET through node:http, which sends the headers as given (fetch replaces
 * a Host header with the URL's).
 */
function status(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = httpGet(url, { headers }, (response) => {
      response.resume();
      response.once('end', () => resolve(response.statusCode ?? 0));
    });
    request.once('error', reject);
  });
}

async function devToken(server: ReferenceServer, userId: string): Promise<string> {
  const response = await fetch(`${server.url}/auth/dev-token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ userId }),
  });
  return ((await response.json()) as { token: string }).token;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('reference server in development mode, no RELAY_ADMIN_TOKEN', () => {
  let server: ReferenceServer;
  let clients: Clients;
  let socket: Socket | undefined;

  beforeAll(async () => {
    server = await startReferenceServer({}, undefined, { host: null });
    clients = clientsOf(server);
  });
  afterAll(async () => {
    socket?.close();
    await server?.close();
  });

  it('answers the runbook command from this machine without a token', async () => {
    socket = await connectSocket(server.url, await devToken(server, 'runbook-user'));
    const bases = [clients.loopback, `http://localhost:${server.port}`];
    // Listening on `::`, an IPv4 client is seen as ::ffff:127.0.0.1 and ::1 is reachable.
    if (server.boundTo === '::') bases.push(`http://[::1]:${server.port}`);
    for (const base of bases) {
      const response = await fetch(`${base}${CONNECTIONS}`);
      expect(response.status).toBe(200);
      const body = (await response.json()) as { connections: { userId: string }[] };
      expect(body.connections.map((c) => c.userId)).toContain('runbook-user');
    }
  });

  it('refuses a client on a non-loopback address, whatever it claims in headers', async () => {
    const remote = `${clients.remote}${CONNECTIONS}`;
    expect(await status(remote)).toBe(404);
    expect(await status(remote, { 'x-forwarded-for': '127.0.0.1' })).toBe(404);
    expect(await status(remote, { 'x-real-ip': '127.0.0.1', forwarded: 'for=127.0.0.1' })).toBe(
      404,
    );
    expect(await status(remote, { host: `localhost:${server.port}` })).toBe(404);
    expect(await status(remote, bearer('any-token-at-all-0123456789'))).toBe(404);
    const send = await fetch(`${clients.remote}/debug/websocket/send`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': '127.0.0.1' },
      body: JSON.stringify({ threadId: 'someone-else', type: 'x', payload: {} }),
    });
    expect(send.status).toBe(404);
  });

  it('refuses a loopback request relayed by a proxy, or posted by a page of another site', async () => {
    const local = `${clients.loopback}${CONNECTIONS}`;
    expect(await status(local, { 'x-forwarded-for': '203.0.113.7' })).toBe(404);
    expect(await status(local, { host: `rebound.example:${server.port}` })).toBe(404);
    // A form another site's page posts through the developer's browser.
    const csrf = await fetch(`${clients.loopback}/debug/websocket/send`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        origin: 'https://evil.example',
        'sec-fetch-site': 'cross-site',
      },
      body: new URLSearchParams({ threadId: 'someone-else', type: 'x' }).toString(),
    });
    expect(csrf.status).toBe(404);
  });
});

describe('reference server in development mode with RELAY_ADMIN_TOKEN', () => {
  let server: ReferenceServer;
  let clients: Clients;

  beforeAll(async () => {
    server = await startReferenceServer({ RELAY_ADMIN_TOKEN: ADMIN_TOKEN }, undefined, {
      host: null,
    });
    clients = clientsOf(server);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('lets loopback in without a token; a wrong token is still 401', async () => {
    const local = `${clients.loopback}${CONNECTIONS}`;
    expect(await status(local)).toBe(200);
    expect(await status(local, bearer('wrong-token'))).toBe(401);
    expect(await status(local, bearer(`${ADMIN_TOKEN}x`))).toBe(401);
    expect(await status(local, bearer(ADMIN_TOKEN))).toBe(200);
  });

  it('asks every other client for the token', async () => {
    const remote = `${clients.remote}${CONNECTIONS}`;
    expect(await status(remote)).toBe(401);
    expect(await status(remote, { 'x-forwarded-for': '127.0.0.1' })).toBe(401);
    expect(await status(remote, bearer('wrong-token'))).toBe(401);
    expect(await status(remote, bearer(ADMIN_TOKEN))).toBe(200);
  });
});

describe('reference server in production (NODE_ENV=production)', () => {
  let server: ReferenceServer;
  let clients: Clients;

  beforeAll(async () => {
    server = await startReferenceServer(
      { NODE_ENV: 'production', RELAY_JWT_SECRET: PROD_SECRET, RELAY_ADMIN_TOKEN: ADMIN_TOKEN },
      undefined,
      { host: null },
    );
    clients = clientsOf(server);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('requires the admin token from loopback clients too', async () => {
    for (const base of [clients.loopback, `http://localhost:${server.port}`]) {
      const url = `${base}${CONNECTIONS}`;
      const response = await fetch(url);
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({
        error: { code: 'UNAUTHORIZED', message: 'admin token required' },
      });
      expect(await status(url, bearer('wrong-token'))).toBe(401);
      expect(await status(url, bearer(ADMIN_TOKEN))).toBe(200);
    }
  });

  it('requires it from remote clients, X-Forwarded-For or not', async () => {
    const remote = `${clients.remote}${CONNECTIONS}`;
    expect(await status(remote)).toBe(401);
    expect(await status(remote, { 'x-forwarded-for': '127.0.0.1' })).toBe(401);
    expect(await status(remote, bearer('wrong-token'))).toBe(401);
    expect(await status(remote, bearer(ADMIN_TOKEN))).toBe(200);
  });

  it('keeps the routes off without RELAY_ADMIN_TOKEN, loopback included', async () => {
    const closed = await startReferenceServer(
      { NODE_ENV: 'production', RELAY_JWT_SECRET: PROD_SECRET },
      undefined,
      { host: null },
    );
    try {
      expect(await status(`http://127.0.0.1:${closed.port}${CONNECTIONS}`)).toBe(404);
    } finally {
      await closed.close();
    }
  });
});
