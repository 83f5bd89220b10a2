import { jest } from '@jest/globals';
import { decodeJwt, jwtVerify } from 'jose';
import type { Socket as ServerSocket } from 'socket.io';
import { io, type Socket } from 'socket.io-client';
import {
  ThreadRelayClient,
  type ThreadEvent,
  type ThreadRelayClientError,
} from '../src/client/index.js';
import { LocalSockets } from '../src/sockets/local-sockets.js';
import {
  ClientEvents,
  ServerEvents,
  signUserToken,
  type Ack,
  type Authenticate,
  type RelayErrorNotice,
  type RelaySessionNotice,
} from '../src/index.js';
import {
  backendModes,
  connectSocket,
  TEST_JWT_SECRET,
  type RelayApp,
} from './support/relay-app.js';
import { useRelayApp } from './support/use-relay-app.js';
import { waitUntil } from './support/wait-until.js';

const SECRET = new TextEncoder().encode(TEST_JWT_SECRET);

/** One `authenticate` call: what it was given and what it answered. */
interface AuthCall {
  token: string | undefined;
  at: number;
  userId: string | null;
}

/** HS256 JWTs, no clock tolerance: a connection's credential ends exactly at `exp`. */
function recordingAuthenticator(calls: AuthCall[]): Authenticate {
  return async ({ token }) => {
    const call: AuthCall = { token, at: Date.now(), userId: null };
    calls.push(call);
    if (!token) return null;
    try {
      const { payload } = await jwtVerify(token, SECRET, {
        algorithms: ['HS256'],
        clockTolerance: 0,
      });
      if (typeof payload.sub !== 'string' || typeof payload.exp !== 'number') return null;
      call.userId = payload.sub;
      return { userId: payload.sub, expiresAt: payload.exp * 1000 };
    } catch {
      return null;
    }
  };
}

const threeSecondToken = (userId: string) =>
  signUserToken(userId, TEST_JWT_SECRET, { expiresIn: '3s' });

function expiresAtOf(token: string): number {
  return (decodeJwt(token).exp ?? 0) * 1000;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What the application sees of one SDK client, and what happened to its socket. */
interface AppView {
  client: ThreadRelayClient;
  events: ThreadEvent[];
  errors: ThreadRelayClientError[];
  disconnects: { reason: string; at: number }[];
}

function openClient(relay: RelayApp, token: () => Promise<string>): AppView {
  const view: AppView = {
    client: new ThreadRelayClient({
      url: relay.url,
      token,
      // The point is the socket: REST polling would only add 401s with an expired token.
      pollAfterMs: 60_000,
      socketOptions: {
        transports: ['websocket'],
        reconnectionDelay: 200,
        reconnectionDelayMax: 1000,
      },
    }),
    events: [],
    errors: [],
    disconnects: [],
  };
  view.client.onEvent((event) => view.events.push(event));
  view.client.onError((error) => view.errors.push(error));
  return view;
}

/** Sends an event to the thread every `everyMs` until stopped; resolves with how many it sent. */
function startProducer(relay: RelayApp, threadId: string, everyMs: number) {
  let running = true;
  let sent = 0;
  const done = (async () => {
    while (running) {
      await relay.delivery.sendToThread(threadId, 'agent_thinking', { i: sent + 1 });
      sent += 1;
      await sleep(everyMs);
    }
    return sent;
  })();
  return {
    get sent() {
      return sent;
    },
    stop: async () => {
      running = false;
      return done;
    },
  };
}

function seqs(view: AppView): number[] {
  return view.events.map((event) => event.seq);
}

function oneToN(n: number): number[] {
  return Array.from({ length: n }, (_, index) => index + 1);
}

/**
 * Like `connectSocket`, but with the listeners in place before the handshake: the relay
 * sends `relay:session` right after it, possibly in the same read as the connect itself.
 */
async function connectRawSocket(relay: RelayApp, token: string) {
  const socket = io(relay.url, {
    auth: { token },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    autoConnect: false,
  });
  const sessions: RelaySessionNotice[] = [];
  const errors: RelayErrorNotice[] = [];
  const disconnects: { reason: string; at: number }[] = [];
  socket.on(ServerEvents.session, (notice: RelaySessionNotice) => sessions.push(notice));
  socket.on(ServerEvents.error, (notice: RelayErrorNotice) => errors.push(notice));
  socket.on('disconnect', (reason) => disconnects.push({ reason, at: Date.now() }));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
    socket.connect();
  });
  return { socket, sessions, errors, disconnects };
}

function refresh(socket: Socket, payload: unknown): Promise<Ack<{ expiresAt: number | null }>> {
  return socket.timeout(5000).emitWithAck(ClientEvents.authRefresh, payload) as Promise<
    Ack<{ expiresAt: number | null }>
  >;
}

/** Memory and Redis: on Redis the connection, its joins and the log a resume reads are in the store. */
const backends = backendModes('renewal');

describe.each(backends)('SDK credential renewal against the relay (3 s JWTs, %s)', (_, config) => {
  const authCalls: AuthCall[] = [];
  /** Every `auth:refresh` the server received, by connection id. */
  const refreshes: { connectionId: string; at: number }[] = [];
  const connections: string[] = [];
  const views: AppView[] = [];
  const rawSockets: Socket[] = [];

  afterAll(async () => {
    jest.useRealTimers();
    await Promise.all(views.splice(0).map((view) => view.client.close()));
    for (const socket of rawSockets.splice(0)) socket.close();
  });
  const relay = useRelayApp(() => ({
    ...config(),
    authenticate: recordingAuthenticator(authCalls),
  }));
  beforeAll(() => {
    const namespace = relay.app.get(LocalSockets).namespace;
    namespace?.on('connection', (socket: ServerSocket) => {
      connections.push(socket.id);
      socket.onAny((event: string) => {
        if (event === ClientEvents.authRefresh)
          refreshes.push({ connectionId: socket.id, at: Date.now() });
      });
    });
  });

  it('keeps one connection for 10 s by renewing its 3 s token, and the app sees every event once, in order', async () => {
    const userId = 'renew-ada';
    const threadId = 'renew-ada-thread';
    await relay.registry.registerThread(threadId, userId);
    const view = openClient(relay, () => threeSecondToken(userId));
    views.push(view);
    await view.client.connect();
    view.client.socket?.on('disconnect', (reason) =>
      view.disconnects.push({ reason, at: Date.now() }),
    );
    const connectionId = view.client.socket?.id ?? '';
    await view.client.join(threadId);

    const producer = startProducer(relay, threadId, 100);
    // Time passing is the point: more than three lifetimes of the token.
    await sleep(10_000);
    const sent = await producer.stop();
    await waitUntil(() => view.events.length >= sent, `${sent} events`);

    expect(sent).toBeGreaterThanOrEqual(80);
    expect(seqs(view)).toEqual(oneToN(sent));
    expect(view.disconnects).toEqual([]);
    expect(view.client.status).toBe('connected');
    expect(view.client.socket?.id).toBe(connectionId);
    expect(connections.filter((id) => id === connectionId)).toHaveLength(1);
    expect(refreshes.filter((r) => r.connectionId === connectionId).length).toBeGreaterThanOrEqual(
      2,
    );
    expect(view.errors).toEqual([]);
    const renewals = refreshes.filter((r) => r.connectionId === connectionId).length;
    process.stdout.write(
      `token renewal: ${sent} events over 10 s on one connection, ${renewals} auth:refresh, 0 lost, 0 duplicated\n`,
    );
  }, 30_000);

  it('with a token that is never renewed: cut at expiry, refused on reconnect, then resumes without a loss or a duplicate', async () => {
    const userId = 'renew-bo';
    const threadId = 'renew-bo-thread';
    await relay.registry.registerThread(threadId, userId);
    const staticToken = await threeSecondToken(userId);
    const expiresAt = expiresAtOf(staticToken);
    let fresh = false;
    const view = openClient(relay, async () => (fresh ? threeSecondToken(userId) : staticToken));
    views.push(view);
    await view.client.connect();
    view.client.socket?.on('disconnect', (reason) =>
      view.disconnects.push({ reason, at: Date.now() }),
    );
    await view.client.join(threadId);
    const producer = startProducer(relay, threadId, 100);

    await waitUntil(() => view.disconnects.length === 1, 'the cut at expiry', 5000);
    const [cut] = view.disconnects;
    expect(cut?.reason).toBe('io server disconnect');
    expect(cut?.at).toBeGreaterThanOrEqual(expiresAt);
    expect(cut?.at).toBeLessThan(expiresAt + 1000);
    expect(view.errors.map((e) => e.code)).toContain('TOKEN_EXPIRED');

    await waitUntil(
      () => view.errors.some((e) => e.code === 'UNAUTHORIZED'),
      'the refused reconnect',
    );
    // The reconnect offered the same token, now expired, and the relay refused it.
    const refusedHandshakes = authCalls.filter(
      (call) => call.token === staticToken && call.at >= expiresAt,
    );
    expect(refusedHandshakes.length).toBeGreaterThanOrEqual(1);
    expect(refusedHandshakes.every((call) => call.userId === null)).toBe(true);
    expect(view.client.status).toBe('reconnecting');
    // What it had stays as it was: a prefix of the thread, each event once.
    const had = seqs(view);
    expect(had).toEqual(oneToN(had.length));
    expect(had.length).toBeGreaterThan(0);

    fresh = true;
    await waitUntil(() => view.client.status === 'connected', 'the reconnect with a fresh token');
    // Live events on the new connection too, not only the ones replayed to it.
    const atReconnect = producer.sent;
    await waitUntil(
      () => view.events.some((e) => e.seq > atReconnect + 1),
      'a live event after the reconnect',
    );
    const sent = await producer.stop();
    await waitUntil(() => view.events.length >= sent, `${sent} events`);
    expect(seqs(view)).toEqual(oneToN(sent));
    expect(sent).toBeGreaterThan(had.length);
    process.stdout.write(
      `unrenewed token: cut ${(cut?.at ?? 0) - expiresAt} ms after expiry, ${refusedHandshakes.length} refused reconnect(s), ` +
        `errors ${view.errors.map((e) => e.code).join(',')}; ${sent} events, 0 lost, 0 duplicated\n`,
    );
  }, 30_000);

  it('raw socket: relay:session, refreshes refused for another user or garbage, a fresh one moves the expiry, then TOKEN_EXPIRED', async () => {
    const userId = 'renew-raw';
    const token = await threeSecondToken(userId);
    const firstExpiry = expiresAtOf(token);
    const raw = await connectRawSocket(relay, token);
    rawSockets.push(raw.socket);

    await waitUntil(() => raw.sessions.length === 1, 'relay:session');
    expect(raw.sessions[0]).toEqual({ expiresAt: firstExpiry });

    const otherUser = await refresh(raw.socket, { token: await threeSecondToken('someone-else') });
    expect(otherUser).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });
    expect(await refresh(raw.socket, { token: 'not-a-jwt' })).toMatchObject({
      ok: false,
      error: { code: 'UNAUTHORIZED' },
    });
    expect(await refresh(raw.socket, { token: 42 })).toMatchObject({
      ok: false,
      error: { code: 'BAD_REQUEST' },
    });

    // Longer-lived, so its `exp` (whole seconds) lies past the first one's.
    const renewedToken = await signUserToken(userId, TEST_JWT_SECRET, { expiresIn: '5s' });
    const renewedExpiry = expiresAtOf(renewedToken);
    expect(renewedExpiry).toBeGreaterThan(firstExpiry);
    expect(await refresh(raw.socket, { token: renewedToken })).toEqual({
      ok: true,
      expiresAt: renewedExpiry,
    });

    // The first credential's end passes without a word: the renewal moved it.
    await sleep(firstExpiry + 300 - Date.now());
    expect(raw.socket.connected).toBe(true);
    expect(raw.errors).toEqual([]);

    // Not renewed again: told why, then disconnected, right at the new expiry.
    await waitUntil(() => raw.disconnects.length === 1, 'the cut at the renewed expiry', 5000);
    expect(raw.errors).toEqual([
      { event: null, error: expect.objectContaining({ code: 'TOKEN_EXPIRED' }) as unknown },
    ]);
    const [cut] = raw.disconnects;
    expect(cut?.reason).toBe('io server disconnect');
    expect(cut?.at).toBeGreaterThanOrEqual(renewedExpiry);
    expect(cut?.at).toBeLessThan(renewedExpiry + 1000);
  }, 30_000);

  it('raw socket: an event that arrives after the expiry, the connection still open, is answered TOKEN_EXPIRED', async () => {
    const token = await threeSecondToken('renew-late');
    const expiresAt = expiresAtOf(token);
    const socket = await connectSocket(relay.url, token);
    rawSockets.push(socket);
    const notices: RelayErrorNotice[] = [];
    socket.on(ServerEvents.error, (notice: RelayErrorNotice) => notices.push(notice));
    const disconnected = new Promise<string>((resolve) => socket.once('disconnect', resolve));

    // The relay's own timer closes the connection at the expiry instant, so an event only
    // gets in after it when the event loop runs late. Rather than wait for that, the clock
    // (Date only: timers stay real) is moved past the expiry before the event is sent.
    jest.useFakeTimers({
      now: expiresAt + 10,
      doNotFake: [
        'hrtime',
        'nextTick',
        'performance',
        'queueMicrotask',
        'requestAnimationFrame',
        'cancelAnimationFrame',
        'requestIdleCallback',
        'cancelIdleCallback',
        'setImmediate',
        'clearImmediate',
        'setInterval',
        'clearInterval',
        'setTimeout',
        'clearTimeout',
      ],
    });
    let answer: unknown;
    try {
      answer = await socket
        .timeout(5000)
        .emitWithAck(ClientEvents.join, { threadId: 'late-thread' });
    } finally {
      jest.useRealTimers();
    }

    expect(answer).toMatchObject({ ok: false, error: { code: 'TOKEN_EXPIRED' } });
    await expect(disconnected).resolves.toBe('io server disconnect');
    // The answer said it: no second notice for the same event.
    expect(notices).toEqual([]);
  });
});
