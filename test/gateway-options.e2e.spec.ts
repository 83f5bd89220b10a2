import type { Server } from 'socket.io';
import { LocalSockets } from '../src/sockets/local-sockets.js';
import { connectSocket } from './support/relay-app.js';
import { useRelayApp } from './support/use-relay-app.js';

describe('gateway options applied by RelayIoAdapter', () => {
  const relay = useRelayApp({
    gateway: {
      path: '/relay-io',
      namespace: '/agents',
      corsOrigins: ['https://app.example.com'],
      pingIntervalMs: 1234,
      pingTimeoutMs: 2345,
      maxPayloadBytes: 4096,
    },
    // Small frames take small events: a user message must still fit a frame.
    delivery: { maxEventBytes: 2048 },
  });

  it('configures path, ping and max payload on the engine and serves the namespace', async () => {
    const nsp = relay.app.get(LocalSockets).namespace;
    expect(nsp?.name).toBe('/agents');
    const server = nsp?.server as Server;
    expect(server.engine.opts).toMatchObject({
      pingInterval: 1234,
      pingTimeout: 2345,
      maxHttpBufferSize: 4096,
    });
    expect(server.path()).toBe('/relay-io');
    const socket = await connectSocket(`${relay.url}/agents`, await relay.token('opt-user'), {
      path: '/relay-io',
    });
    expect(await socket.emitWithAck('thread:join', { threadId: 'opt-thread' })).toMatchObject({
      ok: true,
    });
    socket.close();
  });

  it('allows listed origins and refuses others, for polling and WebSocket alike', async () => {
    const handshake = (origin: string) =>
      fetch(`${relay.url}/relay-io/?EIO=4&transport=polling`, { headers: { origin } });
    const allowed = await handshake('https://app.example.com');
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    const refused = await handshake('https://evil.example.net');
    expect(refused.status).toBe(403);

    const token = await relay.token('opt-user');
    await expect(
      connectSocket(`${relay.url}/agents`, token, {
        path: '/relay-io',
        extraHeaders: { origin: 'https://evil.example.net' },
      }),
    ).rejects.toThrow();
    const ok = await connectSocket(`${relay.url}/agents`, token, {
      path: '/relay-io',
      extraHeaders: { origin: 'https://app.example.com' },
    });
    ok.close();
  });
});
