import { ClientHarness, range } from './support/client-harness.js';
import { expiringToken, FakeRelayServer } from './support/fake-relay-server.js';

/** Short credentials against the fake relay: renewal over auth:refresh, and what expiry does. */
describe('ThreadRelayClient credential lifetime', () => {
  const LIFETIME_MS = 900;
  let server: FakeRelayServer;
  let harness: ClientHarness | undefined;

  beforeEach(async () => {
    server = await FakeRelayServer.start();
  });
  afterEach(async () => {
    await harness?.client.close();
    harness = undefined;
    await server.close();
  });

  const freshToken = () => expiringToken(Date.now() + LIFETIME_MS);

  it('renews a third of the lifetime before expiry, again and again, on one connection', async () => {
    const h = (harness = new ClientHarness(server, { token: freshToken }));
    await h.client.connect();
    await h.client.join('t1');
    const publisher = setInterval(() => server.publish('t1'), 40);
    try {
      await h.until(() => server.refreshes.length >= 4, 'four renewals', 6000);
    } finally {
      clearInterval(publisher);
    }
    const published = server.storedEvents('t1').length;
    await h.received('t1', published);

    expect(server.handshakes).toHaveLength(1);
    expect(server.expirations).toEqual([]);
    expect(h.statuses).toEqual(['connecting', 'connected']);
    expect(h.seqs('t1')).toEqual(range(1, published));
    expect(h.errors).toEqual([]);
    for (const refresh of server.refreshes) {
      const expiresAt = refresh.expiresAtBefore ?? 0;
      // Planned at expiresAt - lifetime / 3 (300 ms) as the client saw the lifetime.
      expect(refresh.at).toBeGreaterThanOrEqual(expiresAt - LIFETIME_MS / 3 - 10);
      expect(refresh.at).toBeLessThan(expiresAt);
      expect(refresh.token).toMatch(/^tok-exp-\d+$/);
    }
  });

  it('renews renewBeforeMs before expiry when that is sooner than a third of the lifetime', async () => {
    const h = (harness = new ClientHarness(server, {
      token: () => expiringToken(Date.now() + 1500),
      renewBeforeMs: 150,
    }));
    await h.client.connect();
    await h.until(() => server.refreshes.length >= 1, 'a renewal', 3000);
    const [refresh] = server.refreshes;
    const expiresAt = refresh?.expiresAtBefore ?? 0;
    expect(refresh?.at).toBeGreaterThanOrEqual(expiresAt - 150 - 10);
    expect(refresh?.at).toBeLessThan(expiresAt);
  });

  it('never sends auth:refresh for a string token: the server cuts, the reconnect is refused', async () => {
    const token = expiringToken(Date.now() + 600);
    const h = (harness = new ClientHarness(server, { token }));
    await h.client.connect();
    await h.client.join('t1');
    server.publish('t1');
    await h.received('t1', 1);

    await h.until(() => h.errors.some((e) => e.code === 'UNAUTHORIZED'), 'the refused reconnect');
    expect(server.refreshes).toEqual([]);
    expect(server.expirations).toHaveLength(1);
    expect(h.errors.map((e) => e.code)).toContain('TOKEN_EXPIRED');
    expect(server.handshakes.map((hs) => hs.token)).toEqual([token, token]);
    expect(server.handshakes.map((hs) => hs.accepted)).toEqual([true, false]);
  });

  it('reports a refused renewal, and after the cut reconnects at once, resuming from the cursor', async () => {
    const h = (harness = new ClientHarness(server, {
      token: freshToken,
      socketOptions: { reconnectionDelay: 50, reconnectionDelayMax: 5000 },
    }));
    server.refuseRefresh = true;
    await h.client.connect();
    await h.client.join('t1');
    server.publish('t1');
    server.publish('t1');
    await h.received('t1', 2);

    await h.until(() => server.expirations.length === 1, 'the cut at expiry', 3000);
    const cutAt = server.expirations[0]?.at ?? 0;
    server.refuseRefresh = false;
    // Stored while the client is away: the re-join's replay brings them.
    server.publish('t1');
    server.publish('t1');
    await h.until(() => server.handshakes.length === 2, 'the reconnect');
    await h.received('t1', 4);
    server.publish('t1');
    await h.received('t1', 5);

    expect(server.handshakes[1]?.accepted).toBe(true);
    // reconnectionDelay (50 ms) after the cut, not a backoff of reconnectionDelayMax.
    expect((server.handshakeTimes[1] ?? Infinity) - cutAt).toBeLessThan(1000);
    expect(server.joins.at(-1)).toMatchObject({ threadId: 't1', lastSeq: 2 });
    // The failed renewals were reported, and so was the expiry.
    expect(server.refreshes.length).toBeGreaterThanOrEqual(2);
    expect(h.errors.filter((e) => e.code === 'UNAUTHORIZED').length).toBe(
      server.refreshes.filter((r) => r.at <= cutAt).length,
    );
    expect(h.errors.map((e) => e.code)).toContain('TOKEN_EXPIRED');
    expect(h.seqs('t1')).toEqual(range(1, 5));
  });

  it('retries on the next connection what the lapsed one answered TOKEN_EXPIRED: a join and a send', async () => {
    server.expiryCut = 'on-event';
    server.refuseRefresh = true;
    const h = (harness = new ClientHarness(server, { token: freshToken }));
    await h.client.connect();
    await h.client.join('t1');
    // Past the expiry, with the connection still open: the next event is answered TOKEN_EXPIRED.
    await new Promise((resolve) => setTimeout(resolve, LIFETIME_MS + 50));
    server.refuseRefresh = false;
    const joined = h.client.join('t2');
    const sent = h.client.send('t2', 'after expiry');

    await expect(joined).resolves.toMatchObject({ threadId: 't2' });
    await expect(sent).resolves.toMatchObject({ seq: 1 });
    expect(server.expirations).toHaveLength(1);
    expect(server.handshakes).toHaveLength(2);
    await h.received('t2', 1);
    expect(h.seqs('t2')).toEqual([1]);
    expect(server.storedEvents('t2')).toHaveLength(1);
  });
});
