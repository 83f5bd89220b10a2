import type { Socket as ServerSocket } from 'socket.io';
import { ThreadRelayClient, type ThreadRelayClientError } from '../src/client/index.js';
import { LocalSockets } from '../src/sockets/local-sockets.js';
import { threadRoom } from '../src/sockets/rooms.js';
import type { TestRelayOptions } from './support/relay-app.js';
import { useRelayApps } from './support/use-relay-app.js';
import { testRedisUrl, uniquePrefix } from './support/redis.js';
import { type RelayApp } from './support/relay-app.js';
import { waitUntil } from './support/wait-until.js';
import { TcpProxy } from './support/tcp-proxy.js';

const EVENTS = 600;
/** A cut every this many events: 9 cuts per client over the run. */
const CUT_EVERY = 60;

type CutKind = 'server-disconnect' | 'server-transport-close' | 'client-engine-close' | 'network';

interface Observed {
  client: ThreadRelayClient;
  label: string;
  seqs: number[];
  resets: number;
  errors: ThreadRelayClientError[];
  /** Indexes of the apps this client was seen connected to. */
  instances: Set<number>;
  cuts: CutKind[];
  /** Id of the connection the last cut was aimed at. */
  cutConnection: string | undefined;
}

function serverSockets(relay: RelayApp): Map<string, ServerSocket> {
  return relay.app.get(LocalSockets).namespace?.sockets ?? new Map<string, ServerSocket>();
}

describe.each([
  ['memory', 1, (): TestRelayOptions => ({ history: { maxPerThread: 5000 } })],
  [
    'redis',
    2,
    (): TestRelayOptions => ({
      redis: testRedisUrl(),
      keyPrefix: uniquePrefix('sdk-recovery'),
      history: { maxPerThread: 5000 },
    }),
  ],
])('SDK + server recovery (%s)', (mode, instances, config) => {
  let proxy: TcpProxy;
  const observed: Observed[] = [];

  afterAll(async () => {
    await Promise.all(observed.splice(0).map(({ client }) => client.close()));
    await proxy.close();
  });
  const apps = useRelayApps(instances, config, (i) => ({ instanceId: `recovery-${mode}-${i}` }));
  beforeAll(async () => {
    proxy = await TcpProxy.start(Number(new URL(apps[0]!.url).port));
  });

  /** The server side of the client's current connection, and the app holding it. */
  function findServerSocket(entry: Observed): ServerSocket | null {
    const id = entry.client.socket?.id;
    if (!entry.client.socket?.connected || id === undefined) return null;
    for (const [index, relay] of apps.entries()) {
      const socket = serverSockets(relay).get(id);
      if (socket) {
        entry.instances.add(index);
        return socket;
      }
    }
    return null;
  }

  /** Connected, and the thread is joined (replay done, room entered) on the server. */
  function live(entry: Observed, threadId: string): boolean {
    const socket = findServerSocket(entry);
    return (
      socket !== null &&
      entry.client.status === 'connected' &&
      socket.rooms.has(threadRoom(threadId))
    );
  }

  /** On a new connection since the last cut, whether or not the thread is joined yet. */
  function reconnected(entry: Observed): boolean {
    const socket = findServerSocket(entry);
    return socket !== null && socket.id !== entry.cutConnection;
  }

  function cut(entry: Observed, kind: CutKind): void {
    entry.cuts.push(kind);
    entry.cutConnection = entry.client.socket?.id;
    switch (kind) {
      case 'server-disconnect':
        findServerSocket(entry)?.disconnect(true);
        return;
      case 'server-transport-close':
        findServerSocket(entry)?.conn.close();
        return;
      case 'client-engine-close':
        entry.client.socket?.io.engine.close();
        return;
      case 'network':
        proxy.cutAll();
        return;
    }
  }

  async function openClient(label: string, url: string, threadId: string): Promise<Observed> {
    const relay = apps[0]!;
    const client = new ThreadRelayClient({
      url,
      token: () => relay.token('rita'),
      socketOptions: {
        transports: ['websocket'],
        reconnectionDelay: 20,
        reconnectionDelayMax: 100,
      },
    });
    const entry: Observed = {
      client,
      label,
      seqs: [],
      resets: 0,
      errors: [],
      instances: new Set(),
      cuts: [],
      cutConnection: undefined,
    };
    observed.push(entry);
    client.onEvent((event) => {
      if (event.threadId === threadId) entry.seqs.push(event.seq);
    });
    client.onReset(() => {
      entry.resets += 1;
    });
    client.onError((error) => entry.errors.push(error));
    await client.connect();
    await client.join(threadId);
    return entry;
  }

  it(`hands the app 1..${EVENTS} exactly once, in order, through server-side, client-side and network cuts`, async () => {
    const threadId = `recovery-${mode}`;
    const last = apps[apps.length - 1]!;
    // One client through the proxy (which moves it to the other instance at every cut),
    // one straight to the last instance: the same user's two tabs, each on its own cursor.
    const viaProxy = await openClient('via proxy', proxy.url, threadId);
    const direct = await openClient('direct', last.url, threadId);
    const clients = [viaProxy, direct];
    const proxyKinds: CutKind[] = [
      'server-disconnect',
      'client-engine-close',
      'network',
      'server-transport-close',
    ];
    const directKinds: CutKind[] = [
      'client-engine-close',
      'server-transport-close',
      'server-disconnect',
    ];
    const totalCuts = Math.floor((EVENTS - 1) / CUT_EVERY);

    let cutsDone = 0;
    let target = 0;
    let producing = true;
    const cutter = (async () => {
      for (let k = 0; k < totalCuts && producing; k++) {
        // Even cuts hit a fully joined connection; odd ones may land in the middle of
        // the re-join and its replay.
        const ready = (entry: Observed) =>
          k % 2 === 0 ? live(entry, threadId) : reconnected(entry);
        await waitUntil(
          () => !producing || clients.every(ready),
          `both clients connected before cut ${k + 1}`,
        );
        if (!producing) break;
        // The next connection of the proxied client lands on the other instance.
        target = (target + 1) % apps.length;
        proxy.targetPort = Number(new URL(apps[target]!.url).port);
        cut(viaProxy, proxyKinds[k % proxyKinds.length]!);
        cut(direct, directKinds[k % directKinds.length]!);
        cutsDone += 1;
      }
    })();

    const producer = async () => {
      try {
        for (let i = 1; i <= EVENTS; i++) {
          const phase = i % CUT_EVERY;
          // Never run ahead of the cuts, so they are spread over the whole run.
          if (phase === 0 && i < EVENTS) {
            const due = i / CUT_EVERY;
            await waitUntil(() => cutsDone >= due, `cut ${due}`, 15_000);
          }
          // Half of each stretch goes out while the clients are down, the other half as
          // soon as they are back: while they re-join and replay.
          if (phase === CUT_EVERY / 2 && cutsDone > 0) {
            await waitUntil(
              () => clients.every(reconnected),
              `both clients reconnected after cut ${cutsDone}`,
              15_000,
            );
          }
          const sender = apps[i % apps.length]!;
          const receipt = await sender.delivery.sendToThread(threadId, 'agent_thinking', { i });
          expect(receipt.seq).toBe(i);
          if (mode === 'memory') await new Promise<void>((r) => setImmediate(r));
        }
      } finally {
        producing = false;
      }
    };
    await Promise.all([producer(), cutter]);
    expect(cutsDone).toBe(totalCuts);

    const expected = Array.from({ length: EVENTS }, (_, i) => i + 1);
    for (const entry of clients) {
      await waitUntil(
        () => entry.seqs.length >= EVENTS,
        `${entry.label}: ${EVENTS} events (has ${entry.seqs.length})`,
        20_000,
      );
    }
    // The acks are the last thing the clients send; once the cursor is at the head,
    // any duplicate the server resent would already have reached the app.
    await expect(last.delivery.waitForDelivery(threadId, EVENTS, 10_000)).resolves.toBe(EVENTS);
    for (const entry of clients) {
      await waitUntil(() => live(entry, threadId), `${entry.label} live after the run`);
      expect({ client: entry.label, seqs: entry.seqs }).toEqual({
        client: entry.label,
        seqs: expected,
      });
      expect(entry.resets).toBe(0);
      expect(entry.errors.filter((e) => !e.retryable)).toEqual([]);
    }
    expect(viaProxy.cuts).toHaveLength(totalCuts);
    expect(new Set(viaProxy.cuts).size).toBe(proxyKinds.length);
    if (apps.length > 1) {
      // It was served by both instances, i.e. reconnected to the other one after a cut.
      expect(viaProxy.instances).toEqual(new Set([0, 1]));
    }
  });
});
