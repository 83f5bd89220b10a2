import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

interface ComposeService {
  image?: string;
  build?: unknown;
  profiles?: string[];
  command?: string | string[];
  ports?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, unknown> | string[];
  volumes?: string[];
  healthcheck?: { test?: string[] };
}

/** Nothing here can run Docker, so the compose file is checked for what users rely on. */
describe('docker-compose.yml', () => {
  const compose = parse(readFileSync('docker-compose.yml', 'utf8')) as {
    services: Record<string, ComposeService>;
  };
  const { services } = compose;
  const defaultServices = Object.keys(services).filter((name) => !services[name]?.profiles);

  it('has Redis, two relay instances and a proxy', () => {
    expect(defaultServices.sort()).toEqual(['proxy', 'redis', 'relay-1', 'relay-2']);
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

  it('keeps the default services free of the cluster variant', () => {
    for (const name of defaultServices) {
      const service = services[name];
      const dependencies = Array.isArray(service?.depends_on)
        ? service.depends_on
        : Object.keys(service?.depends_on ?? {});
      for (const dependency of dependencies) expect(defaultServices).toContain(dependency);
      expect(JSON.stringify(service?.environment ?? {})).not.toMatch(/CLUSTER|redis-node/);
    }
  });

  describe('cluster profile', () => {
    const nodeNames = ['1', '2', '3', '4', '5', '6'].map((n) => `redis-node-${n}`);
    const relayNames = ['relay-cluster-1', 'relay-cluster-2'];
    const words = (command: string | string[] | undefined): string[] =>
      Array.isArray(command) ? command : (command ?? '').split(/\s+/);
    const option = (args: string[], name: string): string | undefined =>
      args[args.indexOf(name) + 1];

    it('puts every service it adds, and only those, in the cluster profile', () => {
      const clusterServices = Object.keys(services).filter((name) => services[name]?.profiles);
      expect(clusterServices.sort()).toEqual(
        [...nodeNames, 'redis-cluster-init', ...relayNames].sort(),
      );
      for (const name of clusterServices) expect(services[name]?.profiles).toEqual(['cluster']);
    });

    it('runs six Redis 7 nodes in cluster mode that announce their service names', () => {
      for (const name of nodeNames) {
        const node = services[name];
        expect(node?.image).toBe('redis:7-alpine');
        const args = words(node?.command);
        expect(args[0]).toBe('redis-server');
        expect(option(args, '--port')).toBe('6379');
        expect(option(args, '--cluster-enabled')).toBe('yes');
        expect(option(args, '--cluster-config-file')).toBe('nodes.conf');
        expect(option(args, '--cluster-node-timeout')).toBe('5000');
        expect(option(args, '--appendonly')).toBe('yes');
        expect(option(args, '--cluster-preferred-endpoint-type')).toBe('hostname');
        expect(option(args, '--cluster-announce-hostname')).toBe(name);
        expect(node?.healthcheck?.test).toEqual(['CMD', 'redis-cli', 'ping']);
        expect(node?.ports).toBeUndefined();
      }
    });

    it('forms the cluster once from all six nodes with one replica each', () => {
      const init = services['redis-cluster-init'];
      expect(init?.image).toBe('redis:7-alpine');
      expect(init?.depends_on).toEqual(
        Object.fromEntries(nodeNames.map((name) => [name, { condition: 'service_healthy' }])),
      );
      const command = init?.command;
      expect(Array.isArray(command)).toBe(true);
      expect((command as string[]).slice(0, 2)).toEqual(['sh', '-c']);
      const script = (command as string[])[2] ?? '';
      // Compose turns `$$` into `$`; a lone `$` would be interpolated from the host environment.
      expect(script.replace(/\$\$/g, '')).not.toMatch(/\$/);
      expect(script).toMatch(
        /if redis-cli -h redis-node-1 cluster info \| grep -q cluster_state:ok; then/,
      );
      const create = script.split('\n').find((line) => line.includes('--cluster create'));
      expect(create).toMatch(/^redis-cli --cluster create /);
      expect(create).toMatch(/ --cluster-replicas 1 /);
      expect(create).toMatch(/ --cluster-yes$/);
      // The addresses are resolved from the node list the loop walks.
      const loop = /^for node in (.+); do$/m.exec(script)?.[1];
      expect(loop?.split(' ')).toEqual(nodeNames.map((name) => `${name}:6379`));
      expect(create).toContain('$$nodes');
    });

    it('runs two relays on the cluster once it is formed, on host ports 8001 and 8002', () => {
      relayNames.forEach((name, index) => {
        const relay = services[name];
        expect(relay?.image).toBe(services['relay-1']?.image);
        expect(relay?.environment?.PORT).toBe('8000');
        expect(relay?.environment?.REDIS_URL).toBeUndefined();
        expect(relay?.environment?.REDIS_CLUSTER_NODES?.split(',')).toEqual(
          nodeNames.map((node) => `${node}:6379`),
        );
        expect(relay?.environment?.RELAY_JWT_SECRET).toBe(
          services['relay-1']?.environment?.RELAY_JWT_SECRET,
        );
        expect(relay?.environment?.RELAY_ADMIN_TOKEN).toBe(
          services['relay-1']?.environment?.RELAY_ADMIN_TOKEN,
        );
        expect(relay?.depends_on).toEqual({
          'redis-cluster-init': { condition: 'service_completed_successfully' },
        });
        expect(relay?.ports).toEqual([`${8001 + index}:8000`]);
      });
      // The profile can start on its own, so it builds the image itself.
      expect(services['relay-cluster-1']?.build).toEqual(services['relay-1']?.build);
    });
  });

  it('publishes no host port twice across all services', () => {
    const hostPorts = Object.values(services)
      .flatMap((service) => service.ports ?? [])
      .map((mapping) => {
        const parts = mapping.split(':');
        return parts.length > 1 ? parts[parts.length - 2] : parts[0];
      });
    expect(hostPorts.length).toBeGreaterThanOrEqual(4);
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
  });
});
