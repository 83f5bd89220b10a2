import type { Socket } from 'socket.io-client';
import { backendModes, connectSocket } from './support/relay-app.js';
import { useRelayApp } from './support/use-relay-app.js';
import { waitUntil } from './support/wait-until.js';

describe.each(backendModes('transport'))(
  'the registry follows a transport upgrade (%s)',
  (_mode, config) => {
    let socket: Socket | undefined;
    afterAll(() => {
      socket?.close();
    });
    const relay = useRelayApp(config);

    it('records polling at connect and websocket once the connection upgrades', async () => {
      // socket.io-client's default: long-polling first, then the upgrade.
      socket = await connectSocket(relay.url, await relay.token('uma'), {
        transports: ['polling', 'websocket'],
      });
      const id = socket.id!;
      await waitUntil(async () => (await relay.store.getConnection(id)) !== null, 'registration');
      await waitUntil(() => socket!.io.engine.transport.name === 'websocket', 'the client upgrade');
      await waitUntil(
        async () => (await relay.store.getConnection(id))?.transport === 'websocket',
        'the registry to say websocket',
      );
    });
  },
);
