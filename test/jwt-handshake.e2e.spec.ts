import { SignJWT } from 'jose';
import type { Socket } from 'socket.io-client';
import { ClientEvents, jwtAuthenticator, signUserToken, type Ack } from '../src/index.js';
import {
  backendModes,
  connectSocket,
  startRelayApp,
  TEST_JWT_SECRET,
  type RelayApp,
  type TestRelayOptions,
} from './support/relay-app.js';

/** A valid HS256 JWT for `userId` with no `exp`: a credential that never lapses. */
function tokenWithoutExpiry(userId: string): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(userId)
    .setIssuedAt()
    .sign(new TextEncoder().encode(TEST_JWT_SECRET));
}

/**
 * `jwtAuthenticator` at a real socket.io handshake: a JWT without `exp` is refused unless
 * `requireExpiry: false` says such tokens are accepted (jwt-authenticator.spec.ts checks
 * the function alone).
 */
describe.each(backendModes('jwt-handshake'))(
  'jwtAuthenticator at the handshake (%s)',
  (_, config) => {
    let relay: RelayApp | undefined;
    const sockets: Socket[] = [];

    const start = async (options: TestRelayOptions = {}) => {
      relay = await startRelayApp({ ...config(), ...options });
      return relay;
    };

    afterEach(async () => {
      for (const socket of sockets.splice(0)) socket.close();
      await relay?.close();
      relay = undefined;
    });

    it('refuses a JWT without exp by default, and lets the same user in with one', async () => {
      // startRelayApp's authenticate is jwtAuthenticator({ secret }) with its defaults.
      const app = await start();
      const userId = 'no-exp-refused';

      await expect(connectSocket(app.url, await tokenWithoutExpiry(userId))).rejects.toMatchObject({
        message: 'unauthorized',
      });

      const socket = await connectSocket(app.url, await signUserToken(userId, TEST_JWT_SECRET));
      sockets.push(socket);
      expect(socket.connected).toBe(true);
    });

    it('accepts a JWT without exp with requireExpiry: false, as a credential that never expires', async () => {
      const app = await start({
        authenticate: jwtAuthenticator({ secret: TEST_JWT_SECRET, requireExpiry: false }),
      });
      const userId = 'no-exp-accepted';
      const token = await tokenWithoutExpiry(userId);
      const socket = await connectSocket(app.url, token);
      sockets.push(socket);

      const threadId = 'no-exp-thread';
      await app.registry.registerThread(threadId, userId);
      expect(await socket.timeout(5000).emitWithAck(ClientEvents.join, { threadId })).toMatchObject(
        { ok: true, threadId },
      );
      const refreshed = (await socket
        .timeout(5000)
        .emitWithAck(ClientEvents.authRefresh, { token })) as Ack<{ expiresAt: number | null }>;
      expect(refreshed).toEqual({ ok: true, expiresAt: null });
    });
  },
);
