import { describe, expect, it } from '@jest/globals';
import { readServerConfig } from '../../src/demo/server-config.js';
import { startBanner } from '../../src/demo/start-banner.js';

const SECRET = 'a-production-secret-of-at-least-32-bytes';
const ADMIN_TOKEN = 'admin-token-0123456789';
const page = { webRoot: '/srv/web/', built: true };

function debugLines(env: NodeJS.ProcessEnv): string {
  return startBanner(readServerConfig(env), page)
    .filter((line) => line.includes('debug routes') || line.includes('try:'))
    .join('\n');
}

describe('the start banner', () => {
  it('lists the server, its mode, the page, the debug routes and the producer API', () => {
    const lines = startBanner(readServerConfig({ PORT: '8123' }), page);
    expect(lines[0]).toBe('thread-relay reference server on http://localhost:8123/');
    expect(lines).toContain('  mode: in-memory (one process)');
    expect(lines).toContain('  web page: /srv/web/');
    expect(lines.at(-1)).toMatch(/producer API: off/);
    expect(startBanner(readServerConfig({ REDIS_URL: 'redis://cache:6380' }), page)).toContain(
      '  mode: redis (cache:6380)',
    );
  });

  it('says in development that loopback clients need no token, and shows the runbook command', () => {
    const text = debugLines({ PORT: '8000' });
    expect(text).toMatch(/debug routes: on without a token from this machine/);
    expect(text).toMatch(/development mode: loopback clients only/);
    expect(text).toMatch(/off for other clients \(set RELAY_ADMIN_TOKEN/);
    expect(text).toContain('curl -s localhost:8000/debug/websocket/connections | jq');
    expect(debugLines({ RELAY_ADMIN_TOKEN: ADMIN_TOKEN })).toMatch(
      /other clients send Authorization: Bearer \$RELAY_ADMIN_TOKEN/,
    );
  });

  it('says in production that every client needs the token (or that the routes are off)', () => {
    const production = { NODE_ENV: 'production', RELAY_JWT_SECRET: SECRET };
    expect(debugLines({ ...production, RELAY_ADMIN_TOKEN: ADMIN_TOKEN })).toBe(
      '  debug routes: on (Authorization: Bearer $RELAY_ADMIN_TOKEN)',
    );
    expect(debugLines(production)).toBe('  debug routes: off (set RELAY_ADMIN_TOKEN to enable)');
  });

  it('never prints the admin token', () => {
    const text = startBanner(readServerConfig({ RELAY_ADMIN_TOKEN: ADMIN_TOKEN }), page).join('\n');
    expect(text).not.toContain(ADMIN_TOKEN);
  });
});
