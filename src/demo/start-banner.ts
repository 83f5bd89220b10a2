import type { ServerConfig } from './server-config.js';

/** What the reference server prints once it listens (`src/main.ts`). */
export function startBanner(
  config: ServerConfig,
  page: { webRoot: string; built: boolean },
): string[] {
  const mode = config.redisClusterNodes
    ? `redis cluster (seeds ${config.redisClusterNodes.map(({ host, port }) => `${host}:${port}`).join(', ')})`
    : config.redisUrl
      ? `redis (${new URL(config.redisUrl).host})`
      : 'in-memory (one process)';
  return [
    `thread-relay reference server on http://localhost:${config.port}/`,
    `  mode: ${mode}`,
    `  web page: ${page.built ? page.webRoot : 'not built (run npm run build)'}`,
    ...debugRoutesLines(config),
    `  producer API: ${config.producerKeys ? `on (${config.producerKeys.length} key(s) in RELAY_PRODUCER_KEYS)` : 'off (set RELAY_PRODUCER_KEYS to enable /v1)'}`,
  ];
}

function debugRoutesLines(config: ServerConfig): string[] {
  const withToken = 'Authorization: Bearer $RELAY_ADMIN_TOKEN';
  if (!config.debugLoopbackWithoutToken) {
    return [
      `  debug routes: ${config.adminToken ? `on (${withToken})` : 'off (set RELAY_ADMIN_TOKEN to enable)'}`,
    ];
  }
  const others = config.adminToken
    ? `other clients send ${withToken}`
    : 'off for other clients (set RELAY_ADMIN_TOKEN to open them with a token)';
  return [
    `  debug routes: on without a token from this machine (development mode: loopback clients only); ${others}`,
    `    try: curl -s localhost:${config.port}/debug/websocket/connections | jq`,
  ];
}
