import {
  type DynamicModule,
  type ForwardReference,
  type INestApplication,
  Module,
  type NestApplicationOptions,
  type Type,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { io, type Socket } from 'socket.io-client';
import {
  DeliveryService,
  jwtAuthenticator,
  REGISTRY_STORE,
  RelayIoAdapter,
  signUserToken,
  ThreadRegistryService,
  ThreadRelayModule,
  type RegistryStore,
  type ThreadRelayModuleOptions,
} from '../../src/index.js';
import { testRedisUrl, uniquePrefix } from './redis.js';

export const TEST_JWT_SECRET = 'test-secret-that-is-at-least-32-bytes-long';
export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789';

export type TestRelayOptions = Partial<ThreadRelayModuleOptions>;

type ModuleImport = Type | DynamicModule | Promise<DynamicModule> | ForwardReference;

/** A host app as the tests build it: its modules and controllers, and how Nest runs it. */
export interface HostAppOptions {
  imports?: ModuleImport[];
  controllers?: Type[];
  /** Nest's application options; default: errors logged only. */
  nest?: NestApplicationOptions;
  /** Runs before the adapter is set and the app listens: a global prefix, the app's logger. */
  configure?: (app: INestApplication) => void;
  /** The address to listen on, default 127.0.0.1; `null`: every interface. */
  host?: string | null;
}

export interface HostApp {
  app: INestApplication;
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** The listening socket's address and port. */
  address: AddressInfo;
  close(): Promise<void>;
}

/**
 * Boots a real Nest app of `options` with the module's socket.io adapter, on a free port
 * (listen(0)); the caller closes it.
 */
export async function startHostApp(options: HostAppOptions = {}): Promise<HostApp> {
  @Module({ imports: options.imports ?? [], controllers: options.controllers ?? [] })
  class HostAppModule {}
  const app = await NestFactory.create(HostAppModule, {
    abortOnError: false,
    ...(options.nest ?? { logger: ['error'] }),
  });
  options.configure?.(app);
  app.useWebSocketAdapter(new RelayIoAdapter(app));
  const host = options.host === undefined ? '127.0.0.1' : options.host;
  if (host === null) await app.listen(0);
  else await app.listen(0, host);
  const address = (app.getHttpServer() as Server).address();
  if (address === null || typeof address === 'string') throw new Error('the app has no port');
  return { app, url: `http://127.0.0.1:${address.port}`, address, close: () => app.close() };
}

export interface RelayApp {
  app: INestApplication;
  url: string;
  registry: ThreadRegistryService;
  /** The registry's store, for what tests read of connections and cursors. */
  store: RegistryStore;
  delivery: DeliveryService;
  token(userId: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * Boots a real Nest app with the module (JWT users, `options` on top) on a free port;
 * `host` adds the host app's own controllers or modules. The caller closes it.
 */
export async function startRelayApp(
  options: TestRelayOptions = {},
  host: HostAppOptions = {},
): Promise<RelayApp> {
  const relay = ThreadRelayModule.forRoot({
    authenticate: jwtAuthenticator({ secret: TEST_JWT_SECRET }),
    ...options,
  });
  const { app, url } = await startHostApp({
    ...host,
    imports: [relay, ...(host.imports ?? [])],
  });
  return {
    app,
    url,
    registry: app.get(ThreadRegistryService),
    store: app.get<symbol, RegistryStore>(REGISTRY_STORE),
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
