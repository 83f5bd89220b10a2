import { type INestApplication, Module, type DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { io, type Socket } from 'socket.io-client';
import {
  DeliveryService,
  jwtAuthenticator,
  RelayIoAdapter,
  signUserToken,
  ThreadRegistryService,
  ThreadRelayModule,
  type ThreadRelayModuleOptions,
} from '../../src/index.js';
import { testRedisUrl, uniquePrefix } from './redis.js';

export const TEST_JWT_SECRET = 'test-secret-that-is-at-least-32-bytes-long';
export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789';

export type TestRelayOptions = Partial<ThreadRelayModuleOptions>;

export interface RelayApp {
  app: INestApplication;
  url: string;
  registry: ThreadRegistryService;
  delivery: DeliveryService;
  token(userId: string): Promise<string>;
  close(): Promise<void>;
}

/** Boots a real Nest app with the module on port 0; the caller closes it. */
export async function startRelayApp(options: TestRelayOptions = {}): Promise<RelayApp> {
  const relay: DynamicModule = ThreadRelayModule.forRoot({
    authenticate: jwtAuthenticator({ secret: TEST_JWT_SECRET }),
    ...options,
  });
  @Module({ imports: [relay] })
  class TestAppModule {}
  const app = await NestFactory.create(TestAppModule, { logger: ['error'], abortOnError: false });
  app.useWebSocketAdapter(new RelayIoAdapter(app));
  await app.listen(0, '127.0.0.1');
  const address = (app.getHttpServer() as import('node:http').Server).address() as { port: number };
  return {
    app,
    url: `http://127.0.0.1:${address.port}`,
    registry: app.get(ThreadRegistryService),
    delivery: app.get(DeliveryService),
    token: (userId) => signUserToken(userId, TEST_JWT_SECRET),
    close: () => app.close(),
  };
}

/** A socket.io-client connection that has completed its handshake. */
export async function connectSocket(
  url: string,
  token: string | undefined,
  options: Parameters<typeof io>[1] = {},
): Promise<Socket> {
  const socket = io(url, {
    auth: token === undefined ? {} : { token },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    ...options,
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
  return socket;
}

/** The two backends every module-level suite runs against: in-memory and Redis under its own prefix. */
export function backendModes(
  label: string,
  extra: TestRelayOptions = {},
): Array<[string, () => TestRelayOptions]> {
  return [
    ['memory', () => ({ ...extra })],
    ['redis', () => ({ redis: testRedisUrl(), keyPrefix: uniquePrefix(label), ...extra })],
  ];
}

/**
 * The backends of suites that also cross instances: one instance in memory, and two on
 * Redis under their own prefix (events and connections may then be on different ones).
 */
export function instanceModes(label: string): Array<[string, number, () => TestRelayOptions]> {
  return [
    ['memory', 1, () => ({})],
    ['redis', 2, () => ({ redis: testRedisUrl(), keyPrefix: uniquePrefix(label) })],
  ];
}
