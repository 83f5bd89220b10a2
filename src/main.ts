import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Logger } from 'nestjs-pino';
import { AppModule } from './demo/app.module.js';
import { ConfigError, readServerConfig } from './demo/server-config.js';
import { startBanner } from './demo/start-banner.js';
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

  const built = existsSync(join(webRoot, 'index.html'));
  for (const line of startBanner(config, { webRoot, built })) console.log(line);
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
