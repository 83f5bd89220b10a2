import { execFile, spawn } from 'node:child_process';
import { cp, mkdtemp, readFile, readdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './support/redis.global-setup.js';
import { waitUntil } from './support/wait-until.js';

const run = promisify(execFile);
const ROOT = process.cwd();

interface PackedFile {
  path: string;
}
interface Packed {
  name: string;
  files: PackedFile[];
}
interface Manifest {
  exports: Record<string, string | { types: string; default: string }>;
  files: string[];
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

/** The repository as a fresh clone has it (tracked and new files, no dist), in a temp dir. */
async function freshCopy(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'thread-relay-pack-'));
  const { stdout } = await run(
    'git',
    ['ls-files', '--cached', '--others', '--exclude-standard', '-z'],
    {
      cwd: ROOT,
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  for (const file of stdout.split('\0').filter((f) => f !== '')) {
    await cp(join(ROOT, file), join(dir, file), { recursive: false, force: true }).catch(
      (error: NodeJS.ErrnoException) => {
        // Deleted in the working tree but still in the index.
        if (error.code !== 'ENOENT') throw error;
      },
    );
  }
  await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return dir;
}

async function pack(dir: string, workspace?: string): Promise<string[]> {
  const args = ['pack', '--dry-run', '--json', ...(workspace ? ['-w', workspace] : [])];
  const { stdout } = await run('npm', args, { cwd: dir, maxBuffer: 64 * 1024 * 1024 });
  const [packed] = JSON.parse(stdout.slice(stdout.indexOf('['))) as Packed[];
  if (!packed) throw new Error(`npm ${args.join(' ')} printed no package`);
  return packed.files.map((f) => f.path);
}

function exportTargets(manifest: Manifest): string[] {
  return Object.values(manifest.exports).flatMap((target) =>
    typeof target === 'string' ? [target] : [target.types, target.default],
  );
}

async function mapsIn(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.js.map'))
    .map((e) => join(e.parentPath, e.name));
}

describe('the published packages', () => {
  let dir: string;
  let server: string[];
  let client: string[];
  let manifest: Manifest;
  let clientManifest: Manifest;

  beforeAll(async () => {
    dir = await freshCopy();
    // Sequential: both packs build into the same copy.
    server = await pack(dir);
    client = await pack(dir, '@thread-relay/client');
    manifest = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as Manifest;
    clientManifest = JSON.parse(
      await readFile(join(dir, 'packages/client/package.json'), 'utf8'),
    ) as Manifest;
  }, 180_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('thread-relay: prepack builds, so a fresh clone packs the library with every export it names', () => {
    expect(server).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json']));
    for (const target of exportTargets(manifest).filter((t) => t !== './package.json')) {
      expect(server).toContain(target.replace(/^\.\//, ''));
    }
  });

  it('thread-relay: the reference server, its web page, specs and build state stay out', () => {
    const strays = server.filter(
      (f) =>
        /^dist\/src\/main\./.test(f) ||
        f.startsWith('dist/src/demo/') ||
        f.startsWith('dist/web/') ||
        f.startsWith('dist/scripts/') ||
        /\.spec\./.test(f) ||
        f.endsWith('.tsbuildinfo') ||
        f.startsWith('src/') ||
        f.startsWith('test/'),
    );
    expect(strays).toEqual([]);
  });

  it('thread-relay: NestJS and its companions are peers; the reference server’s logger is not a dependency', () => {
    const peers = Object.keys(manifest.peerDependencies ?? {});
    expect(peers).toEqual(
      expect.arrayContaining([
        '@nestjs/common',
        '@nestjs/core',
        '@nestjs/platform-express',
        '@nestjs/platform-socket.io',
        '@nestjs/websockets',
        'reflect-metadata',
        'rxjs',
      ]),
    );
    const dependencies = Object.keys(manifest.dependencies ?? {});
    for (const name of [...peers, 'nestjs-pino', 'pino', 'pino-http']) {
      expect(dependencies).not.toContain(name);
    }
    // Development and the reference server still have every peer installed.
    expect(Object.keys(manifest.devDependencies ?? {})).toEqual(expect.arrayContaining(peers));
  });

  it('@thread-relay/client: the SDK alone, depending on socket.io-client only', () => {
    expect(Object.keys(clientManifest.dependencies ?? {})).toEqual(['socket.io-client']);
    expect(client).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json']));
    for (const target of exportTargets(clientManifest).filter((t) => t !== './package.json')) {
      expect(client).toContain(target.replace(/^\.\//, ''));
    }
    expect(client).toContain('dist/protocol.js');
    const serverSide = client.filter(
      (f) => !f.startsWith('dist/client/') && !f.startsWith('dist/protocol.'),
    );
    expect(serverSide.filter((f) => f.startsWith('dist/'))).toEqual([]);
  });

  it('the Nest CLI builds the reference server from nest-cli.json (npx nest build)', async () => {
    await rm(join(dir, 'dist'), { recursive: true, force: true });
    await run('npx', ['nest', 'build'], { cwd: dir, maxBuffer: 64 * 1024 * 1024 });
    const built = await readdir(join(dir, 'dist/src'));
    expect(built).toEqual(expect.arrayContaining(['main.js', 'index.js', 'demo']));
  }, 120_000);

  it('npm run start:dev (nest start --watch) serves the reference server', async () => {
    const port = await freePort();
    const child = spawn('npm', ['run', 'start:dev'], {
      cwd: dir,
      env: { ...process.env, PORT: String(port), NODE_ENV: 'development' },
      stdio: 'ignore',
      detached: true,
    });
    try {
      await waitUntil(
        async () =>
          (await fetch(`http://127.0.0.1:${port}/health`).catch(() => null))?.status === 200,
        'the watched reference server to answer /health',
        90_000,
      );
    } finally {
      // The whole group: npm, nest's watcher and the server it started.
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    }
  }, 120_000);

  it('source maps carry their sources, so none points at a file the package does not ship', async () => {
    const maps = [
      ...(await mapsIn(join(dir, 'dist/src'))),
      ...(await mapsIn(join(dir, 'packages/client/dist'))),
    ];
    expect(maps.length).toBeGreaterThan(50);
    for (const file of maps) {
      const map = JSON.parse(await readFile(file, 'utf8')) as {
        sources: string[];
        sourcesContent?: (string | null)[];
      };
      const missing = map.sources.filter((_, i) => typeof map.sourcesContent?.[i] !== 'string');
      expect({ file: file.slice(dir.length), missing }).toEqual({
        file: file.slice(dir.length),
        missing: [],
      });
    }
  });
});
