import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
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
  healthcheck?: { test?: string[]; interval?: string; timeout?: string; retries?: number };
  restart?: string;
}

interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

type Env = Record<string, string | undefined>;

/** A compose file as Compose reads it: YAML with `<<` merge keys (the files use anchors). */
const load = (path: string): ComposeFile =>
  parse(readFileSync(path, 'utf8'), { merge: true }) as ComposeFile;

/**
 * Compose's variable interpolation of one string: `$$` (a literal `$`), `$VAR`, `${VAR}`,
 * `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`, `${VAR:+alt}`,
 * `${VAR+alt}`. A required variable that is missing throws, as `docker compose` refuses to
 * start; any other `$` is an invalid format, as for Compose.
 */
function interpolate(text: string, env: Env): string {
  return text.replace(/\$(\$|\{[^}]*\}|[A-Za-z_][A-Za-z0-9_]*)?/g, (match, body?: string) => {
    if (body === undefined) throw new Error(`invalid interpolation format in ${text}`);
    if (body === '$') return '$';
    if (!body.startsWith('{')) return env[body] ?? '';
    const parts = /^\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])(.*))?\}$/s.exec(body);
    if (!parts) throw new Error(`invalid interpolation format: ${match}`);
    const [, name = '', operator, argument = ''] = parts;
    const value = env[name];
    const unset = value === undefined;
    const missing = operator?.startsWith(':') ? unset || value === '' : unset;
    switch (operator?.slice(-1)) {
      case '-':
        return missing ? interpolate(argument, env) : (value ?? '');
      case '?':
        if (missing) throw new Error(`required variable ${name} is missing a value: ${argument}`);
        return value ?? '';
      case '+':
        return missing ? '' : interpolate(argument, env);
      default:
        return value ?? '';
    }
  });
}

/** Interpolates every string value (not the keys), as Compose does to the whole file. */
function interpolateAll<T>(value: T, env: Env): T {
  if (typeof value === 'string') return interpolate(value, env) as T;
  if (Array.isArray(value)) return value.map((item: unknown) => interpolateAll(item, env)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, interpolateAll(item, env)]),
    ) as T;
  }
  return value;
}

/**
 * `docker compose -f base -f override`, for the keys the override may use: mappings merge
 * (environment, healthcheck), sequences are replaced (`command`, `healthcheck.test`).
 */
function mergeOverride(base: ComposeFile, override: ComposeFile): ComposeFile {
  const merge = (a: unknown, b: unknown): unknown => {
    if (b && typeof b === 'object' && !Array.isArray(b) && a && typeof a === 'object') {
      const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
      for (const [key, value] of Object.entries(b)) out[key] = merge(out[key], value);
      return out;
    }
    return b;
  };
  return { ...base, services: merge(base.services, override.services) as ComposeFile['services'] };
}

const words = (command: string | string[] | undefined): string[] =>
  Array.isArray(command) ? command : (command ?? '').split(/\s+/);
const option = (args: string[], name: string): string | undefined =>
  args.includes(name) ? args[args.indexOf(name) + 1] : undefined;

const compose = load('docker-compose.yml');
const { services } = compose;
const defaultServices = Object.keys(services).filter((name) => !services[name]?.profiles);
const relayNames = ['relay-1', 'relay-2', 'relay-cluster-1', 'relay-cluster-2'];
const SECRETS = ['RELAY_JWT_SECRET', 'RELAY_ADMIN_TOKEN', 'RELAY_PRODUCER_KEYS'];

/** Nothing here can run Docker, so the compose file is checked for what users rely on. */
describe('docker-compose.yml', () => {
  /** The stack as `docker compose up` runs it with no variable set. */
  const dev = (): ComposeFile => interpolateAll(compose, {});

  it('has Redis, two relay instances and a proxy', () => {
    expect(defaultServices.sort()).toEqual(['proxy', 'redis', 'relay-1', 'relay-2']);
    expect(services.redis?.image).toMatch(/^redis:/);
  });

  it('requires no variable, so `docker compose up` works out of the box', () => {
    // Compose interpolates every service of the file, whatever its profile (docker/compose
    // #11977): one `${VAR:?...}` here would stop the dev stack too. Production requirements
    // live in deploy/compose.production.yml.
    expect(() => interpolateAll(compose, {})).not.toThrow();
    expect(JSON.stringify(compose)).not.toMatch(/\$\{\w+:?\?/);
  });

  it('publishes no Redis port on the host, and none outside 127.0.0.1', () => {
    expect(services.redis?.ports).toBeUndefined();
    for (const service of Object.values(services)) {
      if (!service.image?.startsWith('redis:')) continue;
      for (const mapping of service.ports ?? []) expect(mapping).toMatch(/^127\.0\.0\.1:/);
    }
  });

  it('keeps the Redis AOF on a named volume', () => {
    const args = words(dev().services.redis?.command);
    expect(args[0]).toBe('redis-server');
    expect(option(args, '--appendonly')).toBe('yes');
    const data = services.redis?.volumes?.find((volume) => volume.split(':')[1] === '/data');
    const name = data?.split(':')[0] ?? '';
    expect(name).toMatch(/^[a-z][a-z0-9_-]*$/); // a volume name, not a host path
    expect(Object.keys(compose.volumes ?? {})).toContain(name);
  });

  it('caps Redis memory and never evicts (the relay log must not vanish silently)', () => {
    const args = words(dev().services.redis?.command);
    expect(option(args, '--maxmemory')).toMatch(/^[1-9]\d*(kb|mb|gb)$/i);
    expect(option(args, '--maxmemory-policy')).toBe('noeviction');
    const sized = interpolateAll(compose, { REDIS_MAXMEMORY: '2gb' });
    expect(option(words(sized.services.redis?.command), '--maxmemory')).toBe('2gb');
  });

  it('points both instances at the shared Redis with the same settings on port 8000', () => {
    const one = dev().services['relay-1']?.environment;
    const two = dev().services['relay-2']?.environment;
    for (const env of [one, two]) {
      expect(env).toMatchObject({ PORT: '8000', REDIS_URL: 'redis://redis:6379' });
      expect(Buffer.byteLength(env?.RELAY_JWT_SECRET ?? '')).toBeGreaterThanOrEqual(32);
      expect(env?.RELAY_ADMIN_TOKEN?.length).toBeGreaterThanOrEqual(16);
    }
    expect(one).toEqual(two);
    expect(services['relay-1']?.build).toBeDefined();
    expect(services['relay-2']?.image).toBe(services['relay-1']?.image);
  });

  it('runs the demo in development with dev-only secrets the environment can replace', () => {
    for (const name of relayNames) {
      const raw = services[name]?.environment ?? {};
      // NODE_ENV=production would turn dev sign-in off and the page could not sign in.
      expect(raw.NODE_ENV).toBe('development');
      for (const key of SECRETS) {
        expect(raw[key]).toMatch(new RegExp(`^\\$\\{${key}:-dev-only-[^}$]+\\}$`));
        expect(dev().services[name]?.environment?.[key]).toMatch(/^dev-only-/);
        const replaced = interpolateAll(compose, { [key]: 'from-the-environment-0123456789' });
        expect(replaced.services[name]?.environment?.[key]).toBe('from-the-environment-0123456789');
      }
      const env = dev().services[name]?.environment ?? {};
      const keys = (env.RELAY_PRODUCER_KEYS ?? '').split(',');
      for (const key of keys) expect(key.length).toBeGreaterThanOrEqual(16);
      expect(keys).not.toContain(env.RELAY_ADMIN_TOKEN);
    }
  });

  describe('relay health checks', () => {
    let server: Server;
    let status = 200;
    let port = 0;
    beforeAll(async () => {
      server = createServer((req, res) => {
        res.writeHead(req.url === '/health' ? status : 404).end('{}');
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as { port: number }).port;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    /** Runs a health check's `node -e` script with PORT set, as the container would. */
    const exitCode = async (script: string, env: { PORT: string }): Promise<number> => {
      try {
        await promisify(execFile)(process.execPath, ['-e', script], {
          env: { ...process.env, ...env },
          timeout: 10_000,
        });
        return 0;
      } catch (error) {
        return (error as { code?: number }).code ?? -1;
      }
    };

    it('checks every relay with node (no curl in the image) against GET /health', async () => {
      const scripts = new Set<string>();
      for (const name of relayNames) {
        const check = services[name]?.healthcheck;
        expect(check?.test?.slice(0, 3)).toEqual(['CMD', 'node', '-e']);
        expect(check?.test).toHaveLength(4);
        scripts.add(check?.test?.[3] ?? '');
        expect(check?.interval).toBeDefined();
        expect(check?.timeout).toBeDefined();
        expect(check?.retries).toBeGreaterThanOrEqual(3);
      }
      expect(scripts.size).toBe(1);
      const [script = ''] = scripts;
      expect(script).toMatch(/\/health/);
      status = 200;
      expect(await exitCode(script, { PORT: String(port) })).toBe(0);
      status = 503; // Redis unreachable
      expect(await exitCode(script, { PORT: String(port) })).toBe(1);
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const closedPort = (closed.address() as { port: number }).port;
      await new Promise((resolve) => closed.close(resolve));
      expect(await exitCode(script, { PORT: String(closedPort) })).toBe(1);
    });
  });

  it('starts the relays once Redis is healthy, and the proxy once both relays are', () => {
    for (const name of ['relay-1', 'relay-2']) {
      expect(services[name]?.depends_on).toEqual({ redis: { condition: 'service_healthy' } });
    }
    expect(services.redis?.healthcheck?.test).toEqual(['CMD', 'redis-cli', 'ping']);
    expect(services.proxy?.depends_on).toEqual({
      'relay-1': { condition: 'service_healthy' },
      'relay-2': { condition: 'service_healthy' },
    });
  });

  it('restarts every long-running service, and not the one-shot cluster init', () => {
    for (const [name, service] of Object.entries(services)) {
      if (name === 'redis-cluster-init') {
        expect([undefined, 'no', 'on-failure']).toContain(service.restart);
      } else {
        expect(['unless-stopped', 'always']).toContain(service.restart);
      }
    }
  });

  it('publishes the proxy on 8000 with deploy/nginx.conf in front of both instances', () => {
    expect(services.proxy?.ports).toEqual(['8000:80']);
    expect(services.proxy?.image).toMatch(/^nginx:/);
    const mount = services.proxy?.volumes?.[0] ?? '';
    expect(mount).toBe('./deploy/nginx.conf:/etc/nginx/nginx.conf:ro');
    const conf = readFileSync(mount.split(':')[0] ?? '', 'utf8');
    expect(conf).toMatch(/server relay-1:8000;/);
    expect(conf).toMatch(/server relay-2:8000;/);
    // The rest of the proxy's behaviour: test/deploy-nginx.spec.ts.
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
    const clusterRelays = ['relay-cluster-1', 'relay-cluster-2'];

    it('puts every service it adds, and only those, in the cluster profile', () => {
      const clusterServices = Object.keys(services).filter((name) => services[name]?.profiles);
      expect(clusterServices.sort()).toEqual(
        [...nodeNames, 'redis-cluster-init', ...clusterRelays].sort(),
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
      clusterRelays.forEach((name, index) => {
        const relay = services[name];
        expect(relay?.image).toBe(services['relay-1']?.image);
        expect(relay?.environment?.PORT).toBe('8000');
        expect(relay?.environment?.REDIS_URL).toBeUndefined();
        expect(relay?.environment?.REDIS_CLUSTER_NODES?.split(',')).toEqual(
          nodeNames.map((node) => `${node}:6379`),
        );
        for (const key of ['NODE_ENV', ...SECRETS]) {
          expect(relay?.environment?.[key]).toBe(services['relay-1']?.environment?.[key]);
        }
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
    expect(hostPorts.sort()).toEqual(['8000', '8001', '8002']);
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
  });
});

describe('deploy/compose.production.yml', () => {
  const override = load('deploy/compose.production.yml');
  const production = mergeOverride(compose, override);
  const REQUIRED = [...SECRETS, 'REDIS_PASSWORD'];
  const fullEnv: Env = {
    RELAY_JWT_SECRET: 'prod-jwt-secret-from-env-0123456789abcdef',
    RELAY_ADMIN_TOKEN: 'prod-admin-token-from-env-0123',
    RELAY_PRODUCER_KEYS: 'prod-producer-key-a-0123456789,prod-producer-key-b-0123456789',
    REDIS_PASSWORD: 'prodredispassword0123456789abcdef',
  };
  /** `${NAME:?message}` and nothing else: no default, refused when unset or empty. */
  const required = (name: string) => new RegExp(`^\\$\\{${name}:\\?[^}$]+\\}$`);

  it('only sets environment, command and health check test of services of docker-compose.yml', () => {
    // mergeOverride above merges only these the way Compose does.
    for (const [name, service] of Object.entries(override.services)) {
      expect(Object.keys(services)).toContain(name);
      for (const key of Object.keys(service)) {
        expect(['environment', 'command', 'healthcheck']).toContain(key);
      }
      expect(Object.keys(service.healthcheck ?? {}).filter((key) => key !== 'test')).toEqual([]);
    }
  });

  it('refuses to start while any secret is unset or empty', () => {
    expect(() => interpolateAll(production, fullEnv)).not.toThrow();
    for (const name of REQUIRED) {
      expect(() => interpolateAll(production, { ...fullEnv, [name]: undefined })).toThrow(
        `required variable ${name} is missing a value`,
      );
      expect(() => interpolateAll(production, { ...fullEnv, [name]: '' })).toThrow(
        `required variable ${name} is missing a value`,
      );
    }
  });

  it('writes every secret as ${VAR:?message}, with no literal value or default', () => {
    for (const name of relayNames) {
      const env = production.services[name]?.environment ?? {};
      for (const key of SECRETS) expect(env[key]).toMatch(required(key));
      for (const [key, value] of Object.entries(env)) {
        if (/SECRET|TOKEN|KEY|PASSWORD|AUTH/.test(key)) expect(value).toMatch(required(key));
      }
    }
    for (const name of ['relay-1', 'relay-2']) {
      const url = production.services[name]?.environment?.REDIS_URL ?? '';
      const password = /^redis:\/\/:(.+)@redis:6379$/.exec(url)?.[1];
      expect(password).toMatch(required('REDIS_PASSWORD'));
    }
    const redis = production.services.redis;
    expect(option(words(redis?.command), '--requirepass')).toMatch(required('REDIS_PASSWORD'));
    expect(redis?.environment?.REDISCLI_AUTH).toMatch(required('REDIS_PASSWORD'));
  });

  it('runs every relay in production with the secrets of the environment only', () => {
    const resolved = interpolateAll(production, fullEnv);
    for (const name of relayNames) {
      const env = resolved.services[name]?.environment ?? {};
      expect(env.NODE_ENV).toBe('production');
      for (const key of SECRETS) expect(env[key]).toBe(fullEnv[key]);
    }
    for (const name of ['relay-1', 'relay-2']) {
      expect(resolved.services[name]?.environment?.REDIS_URL).toBe(
        `redis://:${fullEnv.REDIS_PASSWORD}@redis:6379`,
      );
    }
    expect(JSON.stringify(resolved.services)).not.toMatch(/dev-only/);
  });

  it('keeps the Redis AOF, memory policy, unpublished port and an authenticated health check', () => {
    const redis = interpolateAll(production, fullEnv).services.redis;
    const args = words(redis?.command);
    expect(args[0]).toBe('redis-server');
    expect(option(args, '--appendonly')).toBe('yes');
    expect(option(args, '--maxmemory')).toMatch(/^[1-9]\d*(kb|mb|gb)$/i);
    expect(option(args, '--maxmemory-policy')).toBe('noeviction');
    expect(option(args, '--requirepass')).toBe(fullEnv.REDIS_PASSWORD);
    expect(redis?.environment?.REDISCLI_AUTH).toBe(fullEnv.REDIS_PASSWORD);
    expect(redis?.healthcheck?.test).toEqual(['CMD-SHELL', 'redis-cli ping | grep -qx PONG']);
    expect(redis?.ports).toBeUndefined();
    expect(redis?.volumes).toEqual(services.redis?.volumes);
    for (const name of relayNames) {
      expect(production.services[name]?.healthcheck).toEqual(services[name]?.healthcheck);
      expect(production.services[name]?.restart).toBe('unless-stopped');
    }
  });
});

describe('Dockerfile', () => {
  /** Instructions with their continuation lines joined, comments dropped. */
  const instructions = readFileSync('Dockerfile', 'utf8')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const [keyword = '', ...rest] = line.split(/\s+/);
      return { keyword: keyword.toUpperCase(), args: rest.join(' ') };
    });
  const stages = instructions.reduce<(typeof instructions)[]>((out, instruction) => {
    if (instruction.keyword === 'FROM') out.push([]);
    out[out.length - 1]?.push(instruction);
    return out;
  }, []);
  const runtime = stages[stages.length - 1] ?? [];

  it('builds and runs on node:22-bookworm-slim (nestjs-pino 5 needs Node >= 22.12)', () => {
    const bases = instructions
      .filter((i) => i.keyword === 'FROM')
      .map((i) => i.args.split(/\s+/)[0]);
    expect(bases.length).toBeGreaterThanOrEqual(2);
    for (const base of bases) expect(base).toBe('node:22-bookworm-slim');
  });

  it('runs the server as the node user, in production mode unless told otherwise', () => {
    const keywords = runtime.map((i) => i.keyword);
    const user = runtime.filter((i) => i.keyword === 'USER');
    expect(user.map((i) => i.args)).toEqual(['node']);
    expect(keywords.indexOf('USER')).toBeLessThan(keywords.indexOf('CMD'));
    expect(runtime.find((i) => i.keyword === 'ENV')?.args).toBe('NODE_ENV=production');
    expect(runtime.find((i) => i.keyword === 'CMD')?.args).toBe('["node", "dist/src/main.js"]');
    expect(runtime.find((i) => i.keyword === 'EXPOSE')?.args).toBe('8000');
  });

  it('checks its health with the same script as the compose file', () => {
    const check = runtime.find((i) => i.keyword === 'HEALTHCHECK')?.args ?? '';
    const command = JSON.parse(check.slice(check.indexOf('CMD ') + 4)) as string[];
    expect(command).toEqual(services['relay-1']?.healthcheck?.test?.slice(1));
  });

  it('copies every workspace manifest before npm ci', () => {
    const workspaces =
      (JSON.parse(readFileSync('package.json', 'utf8')) as { workspaces?: string[] }).workspaces ??
      [];
    const build = stages[0] ?? [];
    const install = build.findIndex((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args));
    expect(install).toBeGreaterThan(0);
    for (const workspace of workspaces) {
      const copy = build.findIndex(
        (i) => i.keyword === 'COPY' && i.args.split(/\s+/).includes(`${workspace}/package.json`),
      );
      expect({ workspace, copiedBeforeInstall: copy >= 0 && copy < install }).toEqual({
        workspace,
        copiedBeforeInstall: true,
      });
    }
  });

  it('keeps the dependencies the reference server imports', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
      devDependencies?: Record<string, string>;
    };
    const files = [
      'src/main.ts',
      ...readdirSync('src/demo')
        .filter((f) => f.endsWith('.ts'))
        .map((f) => join('src/demo', f)),
    ];
    const imported = new Set<string>();
    for (const file of files) {
      for (const [, specifier = ''] of readFileSync(file, 'utf8').matchAll(
        /from '([^'.][^']*)'/g,
      )) {
        if (specifier.startsWith('node:')) continue;
        const parts = specifier.split('/');
        imported.add(specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? ''));
      }
    }
    expect(imported).toContain('@nestjs/core');
    const devOnly = [...imported].filter((name) => pkg.devDependencies?.[name]);
    const text = instructions.map((i) => `${i.keyword} ${i.args}`).join('\n');
    if (devOnly.length > 0) {
      // Those are devDependencies: pruning them leaves a server that cannot start.
      expect(text).not.toMatch(/--omit[= ]dev|--production|--only[= ]prod/);
    }
    expect(runtime.some((i) => i.keyword === 'COPY' && /node_modules/.test(i.args))).toBe(true);
  });

  it('leaves dependencies, builds and secrets out of the build context', () => {
    const ignored = readFileSync('.dockerignore', 'utf8').split('\n');
    for (const entry of ['node_modules', 'dist', '.git', '.env']) expect(ignored).toContain(entry);
  });
});
