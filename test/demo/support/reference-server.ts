import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { AgentSimulatorService } from '../../../src/demo/agent-simulator.service.js';
import { AppModule } from '../../../src/demo/app.module.js';
import { readServerConfig } from '../../../src/demo/server-config.js';
import { RelayIoAdapter } from '../../../src/gateway/relay-io.adapter.js';

export interface ReferenceServer {
  app: INestApplication;
  /** `http://127.0.0.1:<port>`. */
  url: string;
  port: number;
  /** The listening socket's address: `127.0.0.1`, or `::` / `0.0.0.0` for every interface. */
  boundTo: string;
  close(): Promise<void>;
}

export interface ReferenceServerListen {
  /** Address to listen on (default 127.0.0.1); `null`: every interface, as `src/main.ts` does. */
  host?: string | null;
}

/**
 * Boots the reference server's AppModule (in-memory, quiet, agent timing small) on port 0,
 * configured from `env` exactly as `src/main.ts` does from `process.env`.
 */
export async function startReferenceServer(
  env: NodeJS.ProcessEnv = {},
  webRoot?: string,
  listen: ReferenceServerListen = {},
): Promise<ReferenceServer> {
  const config = readServerConfig({ LOG_LEVEL: 'silent', ...env });
  const app = await NestFactory.create(AppModule.forConfig(config, { webRoot }), {
    logger: false,
    abortOnError: false,
  });
  app.useWebSocketAdapter(new RelayIoAdapter(app));
  app.get(AgentSimulatorService).timing = { stepMs: 5, chunkMs: 2 };
  const host = listen.host === undefined ? '127.0.0.1' : listen.host;
  if (host === null) await app.listen(0);
  else await app.listen(0, host);
  const address = (app.getHttpServer() as Server).address();
  if (address === null || typeof address === 'string') throw new Error('server has no port');
  return {
    app,
    url: `http://127.0.0.1:${address.port}`,
    port: address.port,
    boundTo: address.address,
    close: () => app.close(),
  };
}

const run = promisify(execFile);

/** The web page, bundled by the real build script into a temporary folder. */
export interface BuiltWebPage {
  dir: string;
  remove(): Promise<void>;
}

export async function buildWebPage(): Promise<BuiltWebPage> {
  const dir = await mkdtemp(join(tmpdir(), 'thread-relay-web-'));
  await run(process.execPath, [resolve('scripts/build-web.mjs'), '--out-dir', dir], {
    timeout: 60_000,
  });
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}
