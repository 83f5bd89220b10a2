import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

interface ComposeService {
  image?: string;
  build?: unknown;
  ports?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, unknown> | string[];
  volumes?: string[];
}

/** Nothing here can run Docker, so the compose file is checked for what users rely on. */
describe('docker-compose.yml', () => {
  const compose = parse(readFileSync('docker-compose.yml', 'utf8')) as {
    services: Record<string, ComposeService>;
  };
  const { services } = compose;

  it('has Redis, two relay instances and a proxy', () => {
    expect(Object.keys(services).sort()).toEqual(['proxy', 'redis', 'relay-1', 'relay-2']);
    expect(services.redis?.image).toMatch(/^redis:/);
    expect(services.redis?.ports).toContain('6379:6379');
  });

  it('points both instances at the shared Redis with the same secrets and port 8000', () => {
    const one = services['relay-1']?.environment;
    const two = services['relay-2']?.environment;
    for (const env of [one, two]) {
      expect(env).toMatchObject({ PORT: '8000', REDIS_URL: 'redis://redis:6379' });
      expect(env?.RELAY_JWT_SECRET?.length).toBeGreaterThanOrEqual(32);
      expect(env?.RELAY_ADMIN_TOKEN?.length).toBeGreaterThanOrEqual(16);
    }
    expect(one?.RELAY_JWT_SECRET).toBe(two?.RELAY_JWT_SECRET);
    expect(services['relay-1']?.build).toBeDefined();
    expect(services['relay-2']?.image).toBe(services['relay-1']?.image);
  });

  it('publishes the proxy on 8000 with sticky sessions to both instances', () => {
    expect(services.proxy?.ports).toEqual(['8000:80']);
    const mount = services.proxy?.volumes?.[0] ?? '';
    const conf = readFileSync(mount.split(':')[0] ?? '', 'utf8');
    expect(conf).toMatch(/ip_hash;/);
    expect(conf).toMatch(/server relay-1:8000;/);
    expect(conf).toMatch(/server relay-2:8000;/);
    expect(conf).toMatch(/proxy_set_header Upgrade \$http_upgrade;/);
  });
});
