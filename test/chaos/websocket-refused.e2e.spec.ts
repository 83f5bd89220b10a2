import { ThreadRelayClient, type ClientStatus, type ThreadEvent } from '../../src/client/index.js';
import { signUserToken } from '../../src/index.js';
import { drainSockets } from '../support/chaos-harness.js';
import { sendViaInstance } from '../support/debug-send.js';
import { TEST_JWT_SECRET } from '../support/relay-app.js';
import { waitUntil } from '../support/wait-until.js';
import { spawnRelayCluster, type RelayChild } from '../support/relay-child-process.js';
import { TcpProxy } from '../support/tcp-proxy.js';

const CLIENTS = 10;
const EVENTS_PER_THREAD = 60;

interface View {
  threadId: string;
  client: ThreadRelayClient;
  events: ThreadEvent[];
  statuses: ClientStatus[];
  fallbackSince?: number;
  /** The status the fallback settles on: `streaming` over SSE, `polling` without it. */
  fallback: 'streaming' | 'polling';
}

/**
 * A proxy that starts refusing websockets while events flow (and cuts the ones open): the
 * SDK must carry on over its fallback (Server-Sent Events for half the clients, REST
 * polling for the others, which have SSE turned off) without losing or repeating anything,
 * and go back to the socket once it is let through again.
 */
describe('websocket refused mid-stream, two instances in their own processes', () => {
  const instances: RelayChild[] = [];
  let proxy: TcpProxy;
  const views: View[] = [];

  beforeAll(async () => {
    instances.push(...(await spawnRelayCluster(2, 'ws-refused')));
    // The clients' only way in; producers talk to both instances directly.
    proxy = await TcpProxy.start(Number(new URL(instances[0]!.url).port));
  }, 120_000);

  afterAll(async () => {
    await Promise.all(views.splice(0).map((view) => view.client.close()));
    await proxy?.close();
    await Promise.all(instances.splice(0).map((child) => child.kill()));
  });

  it('delivers every event once, in order, through the polling fallback and back', async () => {
    for (let c = 0; c < CLIENTS; c += 1) {
      const userId = `walled-${c}`;
      const view: View = {
        threadId: `walled-thread-${c}`,
        client: new ThreadRelayClient({
          url: proxy.url,
          token: () => signUserToken(userId, TEST_JWT_SECRET),
          pollAfterMs: 300,
          pollIntervalMs: 100,
          sse: c % 2 === 0,
          socketOptions: {
            transports: ['websocket'],
            reconnectionDelay: 100,
            reconnectionDelayMax: 300,
          },
        }),
        events: [],
        statuses: [],
        fallback: c % 2 === 0 ? 'streaming' : 'polling',
      };
      views.push(view);
      view.client.onEvent((event) => view.events.push(event));
      view.client.onStatus((status) => {
        view.statuses.push(status);
        if (status === view.fallback) view.fallbackSince ??= Date.now();
      });
      await view.client.connect();
      await view.client.join(view.threadId);
    }

    let produced = 0;
    const produce = async (phase: string, count: number) => {
      await Promise.all(
        views.map(async (view, c) => {
          for (let i = 0; i < count; i += 1) {
            const instance = instances[(c + i) % 2]!;
            await sendViaInstance(instance.url, { threadId: view.threadId }, 'agent_thinking', {
              phase,
              i,
            });
            produced += 1;
            await new Promise((r) => setTimeout(r, 5));
          }
        }),
      );
    };
    const third = EVENTS_PER_THREAD / 3;

    await produce('socket', third);
    proxy.blockSocketIo = true;
    proxy.cutAll();
    const blockedAt = Date.now();
    await produce('blocked', third);
    await waitUntil(
      () => views.every((v) => v.client.status === v.fallback),
      'every client on its fallback',
      15_000,
    );
    const fallbackAfter = Math.max(...views.map((v) => v.fallbackSince! - blockedAt));
    await waitUntil(
      () => views.every((v) => v.events.length >= 2 * third),
      'the blocked-phase events over the fallback',
      15_000,
    );
    const refused = proxy.refused;
    proxy.blockSocketIo = false;
    await waitUntil(
      () => views.every((v) => v.client.status === 'connected'),
      'every client back on the socket',
      15_000,
    );
    await produce('socket-again', third);
    await waitUntil(
      () => views.every((v) => v.events.length >= EVENTS_PER_THREAD),
      'every event',
      15_000,
    );
    // A late duplicate the server had sent would be in the lists after this.
    await drainSockets(views.map((v) => ({ socket: v.client.socket, threadId: v.threadId })));

    for (const view of views) {
      expect(view.events.map((e) => e.seq)).toEqual(
        Array.from({ length: EVENTS_PER_THREAD }, (_, i) => i + 1),
      );
      expect(view.events.map((e) => (e.payload as { phase: string }).phase)).toEqual([
        ...Array<string>(third).fill('socket'),
        ...Array<string>(third).fill('blocked'),
        ...Array<string>(third).fill('socket-again'),
      ]);
      expect(view.statuses).toContain(view.fallback);
      expect(view.statuses.at(-1)).toBe('connected');
    }
    expect(refused).toBeGreaterThan(0);
    expect(produced).toBe(CLIENTS * EVENTS_PER_THREAD);
    process.stdout.write(
      `websocket refused: ${CLIENTS} clients, ${produced} events, ${refused} websocket handshakes refused, ` +
        `all clients on SSE or polling ${fallbackAfter} ms after the block; 0 lost, 0 duplicated, order kept\n`,
    );
  }, 120_000);
});
