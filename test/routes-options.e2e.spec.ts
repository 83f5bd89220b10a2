import { Controller, Get, type DynamicModule } from '@nestjs/common';
import { ThreadRelayClient, type ThreadEvent } from '../src/client/index.js';
import {
  DeliveryService,
  jwtAuthenticator,
  signUserToken,
  ThreadRegistryService,
  ThreadRelayModule,
  type RelayRoutes,
} from '../src/index.js';
import { startHostApp, TEST_JWT_SECRET, type HostApp } from './support/relay-app.js';
import { waitUntil } from './support/wait-until.js';

/** The host app's own health and metrics routes, which the module must not take. */
@Controller()
class HostController {
  @Get('health')
  health(): object {
    return { host: 'health' };
  }

  @Get('metrics')
  metrics(): string {
    return 'host_metric 1';
  }
}

function boot(imports: DynamicModule[], withHostRoutes = true): Promise<HostApp> {
  return startHostApp({
    imports,
    controllers: withHostRoutes ? [HostController] : [],
    nest: { logger: false },
  });
}

function relay(routes: RelayRoutes): DynamicModule {
  return ThreadRelayModule.forRoot({
    authenticate: jwtAuthenticator({ secret: TEST_JWT_SECRET }),
    routes,
  });
}

const bearer = async (userId: string) => ({
  authorization: `Bearer ${await signUserToken(userId, TEST_JWT_SECRET)}`,
});

describe('routes a host app controls', () => {
  const hosts: HostApp[] = [];
  afterEach(async () => {
    await Promise.all(hosts.splice(0).map((h) => h.close()));
  });

  it('by default mounts every group at the root (the host’s own /health loses to nothing it did not ask for)', async () => {
    const host = await boot([relay({})], false);
    hosts.push(host);
    for (const path of ['/health', '/metrics']) {
      expect((await fetch(`${host.url}${path}`)).status).toBe(200);
    }
    // Registered but without a log: the route answers for itself.
    const history = await fetch(`${host.url}/threads/t1/messages`, { headers: await bearer('u') });
    expect(history.status).toBe(404);
    expect(await history.json()).toMatchObject({ error: { code: 'THREAD_NOT_FOUND' } });
    // Debug and producer routes exist and say they are off.
    expect((await fetch(`${host.url}/debug/websocket/connections`)).status).toBe(404);
    expect((await fetch(`${host.url}/v1/threads/t1/events`, { method: 'POST' })).status).toBe(404);
  });

  it('a prefix moves every route under it, and the host keeps its own /health and /metrics', async () => {
    const host = await boot([relay({ prefix: '/relay/' })]);
    hosts.push(host);
    const delivery = host.app.get(DeliveryService);
    await host.app.get(ThreadRegistryService).registerThread('pre-1', 'paul');
    await delivery.sendToThread('pre-1', 'tick', { n: 1 });

    expect(await (await fetch(`${host.url}/health`)).json()).toEqual({ host: 'health' });
    expect(await (await fetch(`${host.url}/metrics`)).text()).toBe('host_metric 1');
    expect(await (await fetch(`${host.url}/relay/health`)).json()).toMatchObject({ status: 'ok' });
    expect(await (await fetch(`${host.url}/relay/metrics`)).text()).toContain('relay_connections');
    const page = await fetch(`${host.url}/relay/threads/pre-1/messages`, {
      headers: await bearer('paul'),
    });
    expect(await page.json()).toMatchObject({ threadId: 'pre-1', headSeq: 1 });
    expect((await fetch(`${host.url}/threads/pre-1/messages`)).status).toBe(404);

    // The SDK takes the prefix as part of its URL: REST, SSE and polling hang off it.
    const client = new ThreadRelayClient({
      url: `${host.url}/relay`,
      token: () => signUserToken('paul', TEST_JWT_SECRET),
      pollAfterMs: 100,
      pollIntervalMs: 50,
      // No socket in this host: the module's gateway path is elsewhere on purpose.
      path: '/nowhere',
      socketOptions: { transports: ['websocket'], reconnection: false },
    });
    const seen: ThreadEvent[] = [];
    client.onEvent((e) => seen.push(e));
    try {
      await client.connect();
      await client.join('pre-1');
      await waitUntil(() => client.transport === 'sse', 'the event stream under the prefix');
      await delivery.sendToThread('pre-1', 'tick', { n: 2 });
      await waitUntil(() => seen.length === 2, 'both events');
      expect(seen.map((e) => e.seq)).toEqual([1, 2]);
    } finally {
      await client.close();
    }
  });

  it('each group can be left out: those paths are the host’s or nobody’s', async () => {
    const host = await boot([
      relay({ health: false, metrics: false, history: false, debug: false, producer: false }),
    ]);
    hosts.push(host);
    expect(await (await fetch(`${host.url}/health`)).json()).toEqual({ host: 'health' });
    expect(await (await fetch(`${host.url}/metrics`)).text()).toBe('host_metric 1');
    for (const path of [
      '/threads/t/messages',
      '/threads/t/events',
      '/debug/websocket/connections',
    ]) {
      const answer = await fetch(`${host.url}${path}`, { headers: await bearer('u') });
      expect({ path, status: answer.status }).toEqual({ path, status: 404 });
      // Nest's own 404 for a route nobody mounted, not the module's error body.
      expect(await answer.json()).toMatchObject({
        statusCode: 404,
        message: expect.stringContaining('Cannot GET') as unknown,
      });
    }
  });

  it('metrics behind a token: none or a wrong one is 401, the right one reads them', async () => {
    const token = 'metrics-token-0123456789';
    const host = await boot([relay({ prefix: 'ops', metrics: { token } })], false);
    hosts.push(host);
    const none = await fetch(`${host.url}/ops/metrics`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="metrics"');
    const wrong = await fetch(`${host.url}/ops/metrics`, {
      headers: { authorization: 'Bearer metrics-token-0123456788' },
    });
    expect(wrong.status).toBe(401);
    const basic = await fetch(`${host.url}/ops/metrics`, {
      headers: { authorization: `Basic ${Buffer.from(`x:${token}`).toString('base64')}` },
    });
    expect(basic.status).toBe(401);
    const right = await fetch(`${host.url}/ops/metrics`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(right.status).toBe(200);
    expect(await right.text()).toContain('relay_connections');
  });

  it('forRootAsync takes the routes beside the factory', async () => {
    const module = ThreadRelayModule.forRootAsync({
      useFactory: () => ({ authenticate: jwtAuthenticator({ secret: TEST_JWT_SECRET }) }),
      routes: { prefix: 'async-relay', metrics: false },
    });
    const host = await boot([module], false);
    hosts.push(host);
    expect((await fetch(`${host.url}/async-relay/health`)).status).toBe(200);
    expect((await fetch(`${host.url}/async-relay/metrics`)).status).toBe(404);
    expect((await fetch(`${host.url}/health`)).status).toBe(404);
  });

  it.each([
    [{ prefix: '../admin' }, 'routes.prefix'],
    [{ prefix: 'a b' }, 'routes.prefix'],
    [{ prefix: '' }, 'routes.prefix'],
    [{ prefix: 7 }, 'routes.prefix'],
    [{ health: 'no' }, 'routes.health'],
    [{ metrics: { token: 'short' } }, 'routes.metrics.token'],
    [{ metrics: 'open' }, 'routes.metrics'],
    [{ healthz: true }, 'routes.healthz'],
  ])('refuses routes %j at startup, naming %s', (routes, option) => {
    expect(() => relay(routes as RelayRoutes)).toThrow(
      expect.objectContaining({
        code: 'INVALID_OPTION',
        message: expect.stringContaining(`"${option}"`) as unknown,
      }) as Error,
    );
  });
});
