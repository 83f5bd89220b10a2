import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { AgentSimulatorService } from '../../../src/demo/agent-simulator.service.js';
import { AppModule } from '../../../src/demo/app.module.js';
import { readServerConfig } from '../../../src/demo/server-config.js';
import { startHostApp } from '../../support/relay-app.js';

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
  const { app, url, address } = await startHostApp({
    imports: [AppModule.forConfig(config, { webRoot })],
    nest: { logger: false },
    configure: (host) => {
      host.get(AgentSimulatorService).timing = { stepMs: 5, chunkMs: 2 };
    },
    host: listen.host,
  });
  return {
    app,
    url,
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
