import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Logger } from 'nestjs-pino';
import { AppModule } from './demo/app.module.js';
import { ConfigError, readServerConfig } from './demo/server-config.js';
import { RelayIoAdapter } from './gateway/relay-io.adapter.js';

async function main(): Promise<void> {
  let config;
  try {
    config = readServerConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`thread-relay: ${error.message}`);
      process.exit(1);
    }
    throw error;
  }
  // dist/src/main.js -> dist/web, where `npm run build` puts the page.
  const webRoot = fileURLToPath(new URL('../web/', import.meta.url));
  const app = await NestFactory.create(AppModule.forConfig(config, { webRoot }), {
    bufferLogs: true,
  });
  app.useLogger(app.get(Logger));
  app.useWebSocketAdapter(new RelayIoAdapter(app));
  app.enableShutdownHooks();
  await app.listen(config.port);

  const mode = config.redisClusterNodes
    ? `redis cluster (seeds ${config.redisClusterNodes.map(({ host, port }) => `${host}:${port}`).join(', ')})`
    : config.redisUrl
      ? `redis (${new URL(config.redisUrl).host})`
      : 'in-memory (one process)';
  console.log(`thread-relay reference server on http://localhost:${config.port}/`);
  console.log(`  mode: ${mode}`);
  const pageBuilt = existsSync(join(webRoot, 'index.html'));
  console.log(`  web page: ${pageBuilt ? webRoot : 'not built (run npm run build)'}`);
  console.log(
    `  debug routes: ${config.adminToken ? 'on (RELAY_ADMIN_TOKEN set)' : 'off (set RELAY_ADMIN_TOKEN to enable)'}`,
  );
  console.log(
    `  producer API: ${config.producerKeys ? `on (${config.producerKeys.length} key(s) in RELAY_PRODUCER_KEYS)` : 'off (set RELAY_PRODUCER_KEYS to enable /v1)'}`,
  );
  if (config.jwtSecretIsDefault) {
    console.warn(
      '  WARNING: RELAY_JWT_SECRET is not set; using the built-in dev secret. Never do this in production.',
    );
  }
}

main().catch((error: unknown) => {
  console.error('thread-relay failed to start:', error instanceof Error ? error.message : error);
  process.exit(1);
});
