import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { io as connect } from 'socket.io-client';
import { encodePreEncodedJson, PreEncodedJson } from '../../src/sockets/pre-encoded-json.js';

describe('pre-encoded JSON on a socket.io server', () => {
  it.each(['/', '/relay'])(
    'reaches a client in namespace %s exactly as the object it encodes',
    async (name) => {
      const http = createServer();
      const server = new Server(http);
      encodePreEncodedJson(server);
      await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
      const { port } = http.address() as AddressInfo;
      const nsp = server.of(name);
      nsp.on('connection', (socket) => void socket.join('room'));
      const client = connect(`http://127.0.0.1:${port}${name === '/' ? '' : name}`, {
        transports: ['websocket'],
      });
      try {
        await new Promise<void>((resolve) => client.once('connect', resolve));
        const value = { threadId: 't', seq: 3, payload: { text: 'hé "x"', n: [1, 2] } };
        const received = new Promise<unknown[]>((resolve) =>
          client.once('thread:event', (...args: unknown[]) => resolve(args)),
        );
        // Broadcast (the live path) and a direct emit both take it; plain objects still work.
        await new Promise((resolve) => setImmediate(resolve));
        nsp.local.to('room').emit('thread:event', new PreEncodedJson(JSON.stringify(value)));
        expect(await received).toEqual([value]);
        const direct = new Promise<unknown[]>((resolve) =>
          client.once('other', (...args: unknown[]) => resolve(args)),
        );
        nsp.to('room').emit('other', { plain: true }, 2);
        expect(await direct).toEqual([{ plain: true }, 2]);
        // Anywhere else it serialises to the same JSON.
        expect(JSON.stringify({ v: new PreEncodedJson('{"a":1}') })).toBe('{"v":{"a":1}}');
      } finally {
        client.close();
        await server.close();
      }
    },
  );
});
