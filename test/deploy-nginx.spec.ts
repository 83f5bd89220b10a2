import { execFile } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { Server as IoServer } from 'socket.io';
import { io, type Socket } from 'socket.io-client';
import { startChild } from './support/child-process.js';
import { testRedisUrl, uniquePrefix } from './support/redis.js';
import { connectSocket, type RelayApp } from './support/relay-app.js';
import { useRelayApp } from './support/use-relay-app.js';
import { waitUntil } from './support/wait-until.js';
import type { ThreadEvent } from '../src/index.js';

/**
 * deploy/nginx.conf, the proxy of docker-compose.yml (issue 16). Nothing here runs Docker:
 * the configuration is read, checked by nginx itself (`nginx -t`), and then run by nginx
 * in front of stand-in backends and of two real relay instances, with relay-1 and relay-2
 * pointed at local ports.
 */
const CONF_PATH = 'deploy/nginx.conf';
const confText = readFileSync(CONF_PATH, 'utf8');

// --- a small parser of nginx's configuration syntax ---------------------------------------

interface Directive {
  name: string;
  args: string[];
  block?: Directive[];
}

function tokenize(text: string): string[] {
  const tokens: string[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] ?? '';
    if (/\s/.test(c)) i++;
    else if (c === '#') while (i < text.length && text[i] !== '\n') i++;
    else if (c === '{' || c === '}' || c === ';') tokens.push(text[i++] ?? '');
    else if (c === '"' || c === "'") {
      const end = text.indexOf(c, i + 1);
      if (end < 0) throw new Error(`unterminated quote at ${i}`);
      tokens.push(text.slice(i + 1, end));
      i = end + 1;
    } else {
      let j = i;
      while (j < text.length && !/[\s;{}#]/.test(text[j] ?? '')) j++;
      tokens.push(text.slice(i, j));
      i = j;
    }
  }
  return tokens;
}

function parseNginx(text: string): Directive[] {
  const tokens = tokenize(text);
  let at = 0;
  const block = (nested: boolean): Directive[] => {
    const out: Directive[] = [];
    while (at < tokens.length) {
      if (tokens[at] === '}') {
        if (!nested) throw new Error('unbalanced }');
        at++;
        return out;
      }
      const name = tokens[at++] ?? '';
      const args: string[] = [];
      while (at < tokens.length && tokens[at] !== ';' && tokens[at] !== '{') {
        args.push(tokens[at++] ?? '');
      }
      if (tokens[at] === ';') {
        at++;
        out.push({ name, args });
      } else if (tokens[at] === '{') {
        at++;
        out.push({ name, args, block: block(true) });
      } else throw new Error(`directive ${name} is not terminated`);
    }
    if (nested) throw new Error('unbalanced {');
    return out;
  };
  return block(false);
}

const all = (directives: Directive[]): Directive[] =>
  directives.flatMap((d) => [d, ...all(d.block ?? [])]);
const find = (directives: Directive[] | undefined, name: string, ...args: string[]) =>
  (directives ?? []).filter(
    (d) => d.name === name && args.every((arg, index) => d.args[index] === arg),
  );
const one = (directives: Directive[] | undefined, name: string, ...args: string[]): Directive => {
  const found = find(directives, name, ...args);
  if (found.length !== 1) {
    throw new Error(`expected one ${[name, ...args].join(' ')}, found ${found.length}`);
  }
  return found[0] as Directive;
};
const headers = (location: Directive): Record<string, string> =>
  Object.fromEntries(
    find(location.block, 'proxy_set_header').map((d) => [d.args[0]?.toLowerCase(), d.args[1]]),
  ) as Record<string, string>;

/** An nginx time (`90`, `30s`, `2m`, `1h`) in seconds. */
function seconds(value: string | undefined): number {
  const match = /^(\d+)(ms|s|m|h|d)?$/.exec(value ?? '');
  if (!match) throw new Error(`not an nginx time: ${value}`);
  const unit = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 }[match[2] ?? 's'] ?? 1;
  return Number(match[1]) * unit;
}

const conf = parseNginx(confText);
const http = one(conf, 'http').block;
const server = one(http, 'server').block;
const locations = find(server, 'location');
const location = (...args: string[]): Directive => one(server, 'location', ...args);
const upstreamServers = (name: string): string[][] =>
  find(one(http, 'upstream', name).block, 'server').map((d) => d.args);

describe('deploy/nginx.conf', () => {
  it('parses into the locations the relay needs', () => {
    expect(locations.map((l) => l.args.join(' ')).sort()).toEqual(
      ['/', '/socket.io/', '/threads/', '= /'].sort(),
    );
    expect(find(server, 'listen').map((d) => d.args)).toEqual([['80']]);
  });

  it('has no ip_hash and never forwards $host, the host without its port', () => {
    const directives = all(conf);
    expect(directives.filter((d) => d.name === 'ip_hash')).toEqual([]);
    for (const directive of directives) {
      for (const arg of directive.args) expect(arg).not.toMatch(/\$host\b/);
    }
  });

  it('forwards Host with its port and the X-Forwarded headers from every proxying location', () => {
    const proxying = locations.filter((l) => find(l.block, 'proxy_pass').length > 0);
    expect(proxying).toHaveLength(locations.length);
    for (const l of proxying) {
      // nginx inherits proxy_set_header only into a level that sets none, so each location
      // must carry all of them. X-Forwarded-For also keeps the relay's loopback-only
      // development exemptions from applying to clients that come through the proxy.
      expect(headers(l)).toMatchObject({
        host: '$http_host',
        'x-forwarded-for': '$proxy_add_x_forwarded_for',
        'x-forwarded-proto': '$scheme',
        'x-forwarded-host': '$http_host',
      });
      expect(one(l.block, 'proxy_http_version').args).toEqual(['1.1']);
    }
  });

  it('round-robins REST, the page and SSE over both instances', () => {
    const relay = one(http, 'upstream', 'relay').block ?? [];
    expect(upstreamServers('relay')).toEqual([['relay-1:8000'], ['relay-2:8000']]);
    for (const d of relay) expect(['server', 'keepalive']).toContain(d.name);
    for (const args of [['/'], ['=', '/'], ['/threads/']]) {
      expect(one(location(...args).block, 'proxy_pass').args).toEqual(['http://relay']);
    }
  });

  it('routes /socket.io/ by the session route, each instance backed by the other', () => {
    expect(one(location('/socket.io/').block, 'proxy_pass').args).toEqual([
      'http://$relay_socket_route',
    ]);
    expect(upstreamServers('relay_1')).toEqual([['relay-1:8000'], ['relay-2:8000', 'backup']]);
    expect(upstreamServers('relay_2')).toEqual([['relay-2:8000'], ['relay-1:8000', 'backup']]);
    // Every value the route map can take names one of those two upstreams.
    const route = one(http, 'map', '$relay_cookie_route|$arg_transport|$arg_sid').block ?? [];
    expect(route.map((d) => d.args[0])).toEqual(['$pinned', '$relay_random', '$relay_by_address']);
    for (const variable of ['$relay_by_address', '$relay_random']) {
      const split = find(http, 'split_clients').find((d) => d.args[1] === variable);
      expect(split?.block?.map((d) => d.args[0]).sort()).toEqual(['relay_1', 'relay_2']);
    }
  });

  it('passes WebSocket upgrades on /socket.io/', () => {
    expect(headers(location('/socket.io/'))).toMatchObject({
      upgrade: '$http_upgrade',
      connection: '$connection_upgrade',
    });
    const upgrade = one(http, 'map', '$http_upgrade', '$connection_upgrade').block ?? [];
    expect(upgrade.map((d) => [d.name, ...d.args])).toEqual([
      ['default', 'upgrade'],
      ['', 'close'],
    ]);
  });

  it('streams SSE on /threads/ unbuffered, and holds long connections open', () => {
    const threads = location('/threads/').block;
    expect(one(threads, 'proxy_buffering').args).toEqual(['off']);
    for (const path of ['/threads/', '/socket.io/']) {
      const timeout = one(location(path).block, 'proxy_read_timeout').args[0];
      // Longer than an SSE heartbeat (15 s) and a socket.io ping interval (25 s) by far.
      expect(seconds(timeout)).toBeGreaterThanOrEqual(300);
    }
  });
});

// --- running nginx --------------------------------------------------------------------------

const INSTALL_HINT = 'apt-get install -y nginx-light';

/** NGINX_PATH, else nginx on PATH, else /usr/sbin/nginx (not on every user's PATH). */
function findNginx(): string {
  const candidates = [
    process.env.NGINX_PATH,
    ...(process.env.PATH ?? '').split(delimiter).map((dir) => dir && join(dir, 'nginx')),
    '/usr/sbin/nginx',
  ];
  for (const candidate of candidates) {
    if (!candidate) continue;
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // next
    }
  }
  throw new Error(
    `nginx not found (NGINX_PATH, PATH, /usr/sbin/nginx): these tests run deploy/nginx.conf with it. Install it: ${INSTALL_HINT}`,
  );
}

async function freePort(): Promise<number> {
  const probe = createNetServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/**
 * deploy/nginx.conf with relay-1 and relay-2 at local ports, listening on `port`, and its
 * temporary files and log under `dir` (so that it runs without root).
 */
function renderConf(ports: { relay1: number; relay2: number; listen: number }, dir: string) {
  const count = (re: RegExp) => confText.match(re)?.length ?? 0;
  expect(count(/\brelay-1:8000\b/g)).toBeGreaterThan(0);
  expect(count(/\brelay-2:8000\b/g)).toBeGreaterThan(0);
  expect(count(/^\s*listen 80;$/gm)).toBe(1);
  expect(count(/^http \{$/gm)).toBe(1);
  const version = nginxVersionText;
  const tempPaths = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .filter((module) => module === 'client_body' || !version.includes(`--without-http_${module}`))
    .map((module) => `  ${module}_temp_path ${join(dir, `${module}_temp`)};`);
  return confText
    .replace(/\brelay-1:8000\b/g, `127.0.0.1:${ports.relay1}`)
    .replace(/\brelay-2:8000\b/g, `127.0.0.1:${ports.relay2}`)
    .replace(/^(\s*)listen 80;$/m, `$1listen 127.0.0.1:${ports.listen};`)
    .replace(/^http \{$/m, ['http {', '  access_log off;', ...tempPaths].join('\n'));
}

let nginxPath = '';
let nginxVersionText = '';

async function nginxArgs(
  dir: string,
  ports: { relay1: number; relay2: number; listen: number },
): Promise<string[]> {
  await chmod(dir, 0o755); // workers of a root master run as another user
  const confFile = join(dir, 'nginx.conf');
  await writeFile(confFile, renderConf(ports, dir));
  return ['-p', dir, '-c', confFile, '-e', 'stderr', '-g', `pid ${join(dir, 'nginx.pid')};`];
}

interface RunningNginx {
  url: string;
  port: number;
  stop(): Promise<void>;
}

async function startNginx(relay1: number, relay2: number): Promise<RunningNginx> {
  const dir = await mkdtemp(join(tmpdir(), 'relay-nginx-'));
  const port = await freePort();
  const args = await nginxArgs(dir, { relay1, relay2, listen: port });
  const child = startChild(nginxPath, [...args, '-g', 'daemon off;']);
  const listening = async () =>
    new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
  try {
    await waitUntil(async () => {
      if (!child.running()) throw new Error(`nginx exited: ${child.stderr()}`);
      return listening();
    }, `nginx listening on ${port}`);
  } catch (error) {
    await child.kill();
    throw error;
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    async stop() {
      await child.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A stand-in relay: names itself, echoes what it was sent, speaks socket.io. */
interface Backend {
  name: string;
  port: number;
  close(): Promise<void>;
}

async function startBackend(name: string): Promise<Backend> {
  const server: HttpServer = createServer((req, res) => {
    if (/^\/threads\/[^/]+\/events$/.test(req.url ?? '')) {
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
      res.write(': open\n\n'); // and nothing more until the client leaves
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ name, host: req.headers.host, url: req.url }));
  });
  const ioServer = new IoServer(server, { cookie: false });
  ioServer.on('connection', (socket) => {
    socket.on('whoami', (ack: (answer: { name: string; host?: string }) => void) =>
      ack({ name, host: socket.handshake.headers.host }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    name,
    port: (server.address() as { port: number }).port,
    close: () => new Promise((resolve) => void ioServer.close(() => resolve())),
  };
}

const ROUTE_OF: Record<string, string> = { relay_1: 'relay-1', relay_2: 'relay-2' };

/** The `relay_route` value of a response's Set-Cookie, or undefined without one. */
function routeCookie(response: Response): string | undefined {
  const cookies = response.headers.getSetCookie();
  const cookie = cookies.find((c) => c.startsWith('relay_route='));
  if (cookie) {
    expect(cookie).toMatch(/^relay_route=relay_[12]; Path=\/; HttpOnly; SameSite=Lax$/);
  }
  return cookie?.slice('relay_route='.length, 'relay_route='.length + 'relay_x'.length);
}

describe('deploy/nginx.conf run by nginx', () => {
  const sockets: Socket[] = [];

  beforeAll(async () => {
    nginxPath = findNginx();
    nginxVersionText = (await promisify(execFile)(nginxPath, ['-V'])).stderr;
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });

  const socketThrough = async (
    url: string,
    options: Parameters<typeof io>[1] = {},
  ): Promise<Socket> => {
    const socket = io(url, { forceNew: true, reconnection: false, ...options });
    sockets.push(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    return socket;
  };
  /** Asks the instance holding the session who it is, `times` times over that session. */
  const askNames = async (socket: Socket, times: number): Promise<string[]> => {
    const names: string[] = [];
    for (let i = 0; i < times; i++) {
      const answer = (await socket.timeout(5000).emitWithAck('whoami')) as { name: string };
      names.push(answer.name);
    }
    expect(socket.connected).toBe(true);
    return names;
  };

  it('accepts the configuration (nginx -t)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'relay-nginx-t-'));
    try {
      const args = await nginxArgs(dir, { relay1: 18001, relay2: 18002, listen: 18080 });
      const { stderr } = await promisify(execFile)(nginxPath, ['-t', ...args]);
      expect(stderr).toMatch(/syntax is ok/);
      expect(stderr).toMatch(/test is successful/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  describe('in front of two stand-in instances', () => {
    let backend1: Backend;
    let backend2: Backend;
    let proxy: RunningNginx;

    beforeAll(async () => {
      backend1 = await startBackend('relay-1');
      backend2 = await startBackend('relay-2');
      proxy = await startNginx(backend1.port, backend2.port);
    });
    afterAll(async () => {
      await proxy?.stop();
      await Promise.all([backend1?.close(), backend2?.close()]);
    });

    it('forwards Host with its port on every route', async () => {
      for (const path of ['/', '/threads/t-1/messages', '/v1/threads/t-1/delivery']) {
        const body = (await (await fetch(`${proxy.url}${path}`)).json()) as { host: string };
        expect(body.host).toBe(`127.0.0.1:${proxy.port}`);
      }
      const socket = await socketThrough(proxy.url, { transports: ['websocket'] });
      const answer = (await socket.emitWithAck('whoami')) as { host: string };
      expect(answer.host).toBe(`127.0.0.1:${proxy.port}`);
    });

    it('round-robins REST and SSE requests over both instances', async () => {
      const names = new Set<string>();
      for (let i = 0; i < 6; i++) {
        const body = (await (await fetch(`${proxy.url}/threads/t-1/messages`)).json()) as {
          name: string;
        };
        names.add(body.name);
      }
      expect([...names].sort()).toEqual(['relay-1', 'relay-2']);
    });

    // nginx 1.22 happens to pass these small chunks on even with proxy_buffering on, so the
    // directive itself is checked above; this checks nothing else in the path holds a stream.
    it('passes the first bytes of an SSE stream on at once', async () => {
      const abort = new AbortController();
      try {
        const response = await fetch(`${proxy.url}/threads/t-1/events`, { signal: abort.signal });
        expect(response.status).toBe(200);
        const reader = (response.body as ReadableStream<Uint8Array>).getReader();
        const first = await Promise.race([
          reader.read(),
          new Promise<never>((_, reject) =>
            setTimeout(() => reject(new Error('no SSE bytes within 3 s: buffered?')), 3000),
          ),
        ]);
        expect(Buffer.from(first.value ?? []).toString()).toBe(': open\n\n');
      } finally {
        abort.abort();
      }
    });

    it('pins every request of a session to the instance its relay_route cookie names', async () => {
      for (const route of ['relay_1', 'relay_2']) {
        const extraHeaders = { cookie: `relay_route=${route}` };
        const polling = await socketThrough(proxy.url, { transports: ['polling'], extraHeaders });
        expect(new Set(await askNames(polling, 8))).toEqual(new Set([ROUTE_OF[route]]));
        // polling first, then the upgrade request, then WebSocket
        const upgraded = await socketThrough(proxy.url, { extraHeaders });
        await waitUntil(() => upgraded.io.engine.transport.name === 'websocket', 'the upgrade');
        expect(new Set(await askNames(upgraded, 3))).toEqual(new Set([ROUTE_OF[route]]));
        // A client with a valid cookie is never given another one.
        const handshake = await fetch(`${proxy.url}/socket.io/?EIO=4&transport=polling`, {
          headers: extraHeaders,
        });
        expect(handshake.status).toBe(200);
        expect(routeCookie(handshake)).toBeUndefined();
      }
    });

    it('keeps a cookieless polling session on its address instance and names it in a cookie', async () => {
      const routes = new Set<string | undefined>();
      for (let i = 0; i < 6; i++) {
        const handshake = await fetch(`${proxy.url}/socket.io/?EIO=4&transport=polling`);
        expect(handshake.status).toBe(200);
        routes.add(routeCookie(handshake));
      }
      expect(routes.size).toBe(1);
      const route = [...routes][0] as string;
      expect(Object.keys(ROUTE_OF)).toContain(route);
      // Node's socket.io-client keeps no cookies unless withCredentials: each request of these
      // sessions arrives without one and must still find the session's instance.
      for (let i = 0; i < 3; i++) {
        const polling = await socketThrough(proxy.url, { transports: ['polling'] });
        expect(new Set(await askNames(polling, 6))).toEqual(new Set([ROUTE_OF[route]]));
      }
      const upgraded = await socketThrough(proxy.url);
      await waitUntil(() => upgraded.io.engine.transport.name === 'websocket', 'the upgrade');
      expect(new Set(await askNames(upgraded, 3))).toEqual(new Set([ROUTE_OF[route]]));
      // With a cookie jar, the cookie the handshake set keeps later requests there too.
      const jar = await socketThrough(proxy.url, {
        transports: ['polling'],
        withCredentials: true,
      });
      expect(new Set(await askNames(jar, 6))).toEqual(new Set([ROUTE_OF[route]]));
      // A cookie naming no instance counts as none.
      const forged = await fetch(`${proxy.url}/socket.io/?EIO=4&transport=polling`, {
        headers: { cookie: 'relay_route=relay_3' },
      });
      expect(routeCookie(forged)).toBe(route);
      const forgedSession = await socketThrough(proxy.url, {
        transports: ['polling'],
        extraHeaders: { cookie: 'relay_route=elsewhere' },
      });
      expect(new Set(await askNames(forgedSession, 4))).toEqual(new Set([ROUTE_OF[route]]));
    });

    it('spreads WebSocket-only sessions and first page visits over both instances', async () => {
      const names = new Set<string>();
      for (let i = 0; i < 24 && names.size < 2; i++) {
        const socket = await socketThrough(proxy.url, { transports: ['websocket'] });
        names.add((await askNames(socket, 1))[0] ?? '');
        socket.close();
      }
      expect([...names].sort()).toEqual(['relay-1', 'relay-2']);

      const pageRoutes = new Set<string | undefined>();
      for (let i = 0; i < 24 && pageRoutes.size < 2; i++) {
        pageRoutes.add(routeCookie(await fetch(`${proxy.url}/`)));
      }
      expect([...pageRoutes].sort()).toEqual(['relay_1', 'relay_2']);
      const again = await fetch(`${proxy.url}/`, { headers: { cookie: 'relay_route=relay_2' } });
      expect(routeCookie(again)).toBeUndefined();
      // Only the page hands out a route: other routes leave the cookie alone.
      expect(routeCookie(await fetch(`${proxy.url}/threads/t-1/messages`))).toBeUndefined();
    });
  });

  describe('in front of two relay instances (issue 16)', () => {
    const keyPrefix = uniquePrefix('nginx');
    let proxy: RunningNginx;
    const portOf = (relay: RelayApp) => Number(new URL(relay.url).port);

    afterAll(async () => {
      await proxy?.stop();
    });
    const a = useRelayApp(() => ({ redis: testRedisUrl(), keyPrefix, instanceId: 'nginx-a' }));
    const b = useRelayApp(() => ({ redis: testRedisUrl(), keyPrefix, instanceId: 'nginx-b' }));
    beforeAll(async () => {
      proxy = await startNginx(portOf(a), portOf(b));
    });

    it('accepts a WebSocket-only client that sends an Origin (python-socketio)', async () => {
      const socket = await connectSocket(proxy.url, await a.token('ws-origin'), {
        transports: ['websocket'],
        extraHeaders: { origin: proxy.url },
      });
      sockets.push(socket);
      expect(socket.connected).toBe(true);
    });

    it('serves a polling session with a browser Origin, events included, on one instance', async () => {
      await a.registry.registerThread('nginx-thread', 'polly');
      const socket = await connectSocket(proxy.url, await a.token('polly'), {
        transports: ['polling'],
        extraHeaders: { origin: proxy.url },
      });
      sockets.push(socket);
      const events: ThreadEvent[] = [];
      socket.on('thread:event', (event: ThreadEvent) => events.push(event));
      let closed = '';
      socket.on('disconnect', (reason) => (closed = reason));
      expect(await socket.emitWithAck('thread:join', { threadId: 'nginx-thread' })).toMatchObject({
        ok: true,
      });
      for (let i = 1; i <= 10; i++) {
        await a.delivery.sendToThread('nginx-thread', 'tick', { i });
        await waitUntil(() => events.length === i, `event ${i} over polling`);
      }
      expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(closed).toBe('');
      expect(socket.io.engine.transport.name).toBe('polling');
    });
  });
});
