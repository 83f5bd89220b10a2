import { ThreadRelayClient, type ClientStatus, type ThreadEvent } from '../../src/client/index.js';
import { signUserToken } from '../../src/index.js';
import { OwnRedisServer } from '../support/own-redis-server.js';
import { TEST_ADMIN_TOKEN, TEST_JWT_SECRET } from '../support/relay-app.js';
import { waitUntil } from '../support/wait-until.js';
import { spawnRelayChild, type RelayChild } from '../support/relay-child-process.js';
import { buildRelayChild, REFERENCE_CHILD_ENTRY } from '../support/child-build.js';
import { TcpProxy } from '../support/tcp-proxy.js';

/** What the reference server's agent simulator sends for one user message, in order. */
const RUN_SHAPE =
  /^user_message,agent_started,agent_thinking,tool_executing,tool_completed,(assistant_message,)+agent_completed$/;

interface AppView {
  client: ThreadRelayClient;
  events: ThreadEvent[];
  statuses: ClientStatus[];
}

/**
 * The whole product path, across processes: a user message goes in on one instance, the
 * reference server's agent answers it with a run addressed by run id, and every tab of the
 * user sees the run, whether its socket works or it is stuck on REST polling.
 */
describe('user message -> agent -> response, two reference servers on one Redis', () => {
  let redis: OwnRedisServer;
  const servers: RelayChild[] = [];
  let blocked: TcpProxy;
  const views: AppView[] = [];

  beforeAll(async () => {
    redis = await OwnRedisServer.start();
    await buildRelayChild();
    const env = {
      REFERENCE_CHILD_ENV: JSON.stringify({
        REDIS_URL: redis.url,
        RELAY_JWT_SECRET: TEST_JWT_SECRET,
        RELAY_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      }),
    };
    for (let i = 0; i < 2; i += 1) {
      servers.push(await spawnRelayChild(REFERENCE_CHILD_ENTRY, {}, 30_000, env));
    }
    // In front of the second server: plain HTTP passes, websocket handshakes are refused.
    blocked = await TcpProxy.start(Number(new URL(servers[1]!.url).port));
    blocked.blockSocketIo = true;
  }, 120_000);

  afterAll(async () => {
    await Promise.all(views.splice(0).map((view) => view.client.close()));
    await blocked?.close();
    await Promise.all(servers.splice(0).map((server) => server.kill()));
    await redis?.dispose();
  });

  async function open(url: string, userId: string, sse = true): Promise<AppView> {
    const view: AppView = {
      client: new ThreadRelayClient({
        url,
        token: () => signUserToken(userId, TEST_JWT_SECRET),
        pollAfterMs: 300,
        pollIntervalMs: 100,
        sse,
        socketOptions: { transports: ['websocket'], reconnectionDelay: 100 },
      }),
      events: [],
      statuses: [],
    };
    views.push(view);
    view.client.onEvent((event) => view.events.push(event));
    view.client.onStatus((status) => view.statuses.push(status));
    await view.client.connect();
    return view;
  }

  function expectOneRun(view: AppView, threadId: string, text: string): void {
    const events = view.events.filter((e) => e.threadId === threadId);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.map((e) => e.type).join(',')).toMatch(RUN_SHAPE);
    expect(events[0]!.payload).toMatchObject({ text });
    // The agent addressed its events by run id; each one names the run it belongs to.
    const runIds = new Set(events.slice(1).map((e) => e.runId));
    expect(runIds.size).toBe(1);
    expect([...runIds][0]).toMatch(new RegExp(`^${threadId}_run_\\d{10,16}_[0-9a-f]+$`));
    expect(events.at(-2)!.payload).toMatchObject({
      final: true,
      text: expect.stringContaining(text) as unknown,
    });
  }

  it('over websockets: the tab that sent and a tab on the other instance both see the whole run once, in order', async () => {
    const threadId = 'ada-chat';
    const sender = await open(servers[0]!.url, 'ada');
    const otherTab = await open(servers[1]!.url, 'ada');
    expect(sender.client.status).toBe('connected');
    expect(otherTab.client.status).toBe('connected');
    await sender.client.join(threadId);
    await otherTab.client.join(threadId);

    const text = 'what is the weather like';
    const sent = await sender.client.send(threadId, text);
    expect(sent).toMatchObject({ seq: 1 });

    const done = (view: AppView) => view.events.some((e) => e.type === 'agent_completed');
    await waitUntil(() => done(sender) && done(otherTab), 'the agent run on both tabs', 20_000);
    expectOneRun(sender, threadId, text);
    expectOneRun(otherTab, threadId, text);
    expect(otherTab.events.map((e) => e.id)).toEqual(sender.events.map((e) => e.id));
    expect(sender.statuses).not.toContain('polling');
  });

  it('over REST polling when websockets are refused: a new thread, the message and the whole run, and a socket tab agrees', async () => {
    const threadId = 'bo-chat';
    // SSE off: this is the last resort's own test (the SDK fallback suite covers SSE).
    const poller = await open(blocked.url, 'bo', false);
    expect(poller.client.status).toBe('polling');
    expect(blocked.refused).toBeGreaterThan(0);
    // The thread does not exist yet: a read registers nothing, so the polling client's join
    // sees an empty thread, and the socket tab's join (or the poller's first message) creates it.
    await expect(poller.client.join(threadId)).resolves.toMatchObject({ threadId, headSeq: 0 });
    const watcher = await open(servers[0]!.url, 'bo');
    await watcher.client.join(threadId);

    const text = 'summarise my inbox';
    await expect(poller.client.send(threadId, text)).resolves.toMatchObject({ seq: 1 });
    const done = (view: AppView) => view.events.some((e) => e.type === 'agent_completed');
    await waitUntil(() => done(poller) && done(watcher), 'the agent run while polling', 20_000);
    expectOneRun(poller, threadId, text);
    expectOneRun(watcher, threadId, text);
    expect(poller.events.map((e) => e.id)).toEqual(watcher.events.map((e) => e.id));
    expect(poller.client.status).toBe('polling');
    expect(poller.client.socket?.connected ?? false).toBe(false);
  });
});
