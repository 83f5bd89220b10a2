import { spawn, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TEST_ADMIN_TOKEN, type TestRelayOptions } from './relay-app.js';
import { testRedisUrl, uniquePrefix } from './redis.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Under node_modules so the compiled code resolves the project's dependencies. */
const BUILD_DIR = path.join(ROOT, 'node_modules', '.cache', 'thread-relay-child');
const OUT_DIR = path.join(BUILD_DIR, 'out');
const CHILD_ENTRY = path.join(OUT_DIR, 'test', 'support', 'relay-child.js');
/** A producer process (`createPublisher` only); built by `buildRelayChild` too. */
export const PRODUCER_CHILD_ENTRY = path.join(OUT_DIR, 'test', 'support', 'producer-child.js');
/** The reference server as a child; built by `buildRelayChild` too. */
export const REFERENCE_CHILD_ENTRY = path.join(OUT_DIR, 'test', 'support', 'reference-child.js');
const LOCK_DIR = path.join(BUILD_DIR, 'build.lock');
/** A lock older than this was left by a killed run. */
const STALE_LOCK_MS = 120_000;

/**
 * Jest runs suites in parallel workers and several of them build the children: one tsc at
 * a time, so no worker starts a child from a file another worker is half-way writing.
 */
async function withBuildLock<T>(timeoutMs: number, work: () => Promise<T>): Promise<T> {
  mkdirSync(BUILD_DIR, { recursive: true });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(LOCK_DIR);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      try {
        if (Date.now() - statSync(LOCK_DIR).mtimeMs > STALE_LOCK_MS)
          rmSync(LOCK_DIR, { recursive: true, force: true });
      } catch {
        // Released between the two calls.
      }
      if (Date.now() > deadline) {
        throw new Error(`waited ${timeoutMs} ms for ${LOCK_DIR}`, { cause: error });
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await work();
  } finally {
    rmSync(LOCK_DIR, { recursive: true, force: true });
  }
}

/**
 * Compiles `relay-child.ts` and the sources it imports with tsc (decorator metadata
 * included, which Nest's injection needs), incrementally, into a cache directory.
 * Returns the compiled entry point.
 */
export async function buildRelayChild(timeoutMs = 60_000): Promise<string> {
  return withBuildLock(2 * timeoutMs, () => compileChildren(timeoutMs));
}

async function compileChildren(timeoutMs: number): Promise<string> {
  mkdirSync(OUT_DIR, { recursive: true });
  // node_modules is the edge of every package scope: the output needs its own. Written only
  // when missing or different: a child another worker (or run) starts meanwhile reads it, and
  // a rewrite in progress is an empty file to it ("Unexpected end of JSON input").
  const scope = path.join(OUT_DIR, 'package.json');
  const scopeJson = '{ "type": "module" }\n';
  if (!existsSync(scope) || readFileSync(scope, 'utf8') !== scopeJson) {
    writeFileSync(`${scope}.tmp`, scopeJson);
    renameSync(`${scope}.tmp`, scope);
  }
  const config = path.join(BUILD_DIR, 'tsconfig.json');
  writeFileSync(
    config,
    JSON.stringify(
      {
        extends: path.join(ROOT, 'tsconfig.json'),
        compilerOptions: {
          rootDir: ROOT,
          outDir: OUT_DIR,
          types: ['node'],
          typeRoots: [path.join(ROOT, 'node_modules', '@types')],
          declaration: false,
          sourceMap: false,
          incremental: true,
          tsBuildInfoFile: path.join(BUILD_DIR, 'tsbuildinfo'),
          noEmitOnError: true,
        },
        include: [],
        files: [
          path.join(ROOT, 'test', 'support', 'relay-child.ts'),
          path.join(ROOT, 'test', 'support', 'reference-child.ts'),
          path.join(ROOT, 'test', 'support', 'producer-child.ts'),
        ],
      },
      null,
      2,
    ),
  );
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const child = spawn(process.execPath, [tsc, '-p', config], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tsc did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    child.once('error', reject);
    child.once('exit', (exitCode) => {
      clearTimeout(timer);
      resolve(exitCode);
    });
  });
  if (code !== 0) throw new Error(`compiling the relay child failed (exit ${code}):\n${output}`);
  return CHILD_ENTRY;
}

export interface RelayChild {
  url: string;
  process: ChildProcess;
  /** Resolves once the process has exited. */
  exited: Promise<void>;
  /** SIGKILL: no shutdown hook runs, nothing is cleaned up. */
  kill(): Promise<void>;
}

/**
 * Starts a compiled child (`entry`: the relay child, or REFERENCE_CHILD_ENTRY) with
 * `options` and any `extraEnv`; resolves once it is listening.
 */
export async function spawnRelayChild(
  entry: string,
  options: TestRelayOptions,
  timeoutMs = 15_000,
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<RelayChild> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    RELAY_CHILD_OPTIONS: JSON.stringify(options),
    ...extraEnv,
  };
  delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, [entry], {
    cwd: ROOT,
    env,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let buffered = '';
      const timer = setTimeout(
        () => reject(new Error(`relay child not ready within ${timeoutMs} ms`)),
        timeoutMs,
      );
      child.stdout.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        const match = /RELAY_CHILD_READY (\S+)/.exec(buffered);
        if (match?.[1]) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`relay child exited before it was ready (code ${child.exitCode})`));
      });
    });
    return { url, process: child, exited, kill };
  } catch (error) {
    await kill();
    throw error;
  }
}

/**
 * `count` relay children on the shared test Redis under one fresh key prefix, debug routes
 * on (the admin token), named `<label>-0`, `<label>-1`, ...; `extra` adds options to each.
 */
export async function spawnRelayCluster(
  count: number,
  label: string,
  extra: TestRelayOptions = {},
): Promise<RelayChild[]> {
  const entry = await buildRelayChild();
  const keyPrefix = uniquePrefix(label);
  const children: RelayChild[] = [];
  try {
    for (let i = 0; i < count; i += 1) {
      children.push(
        await spawnRelayChild(entry, {
          redis: testRedisUrl(),
          keyPrefix,
          instanceId: `${label}-${i}`,
          debug: { adminToken: TEST_ADMIN_TOKEN },
          ...extra,
        }),
      );
    }
  } catch (error) {
    await Promise.all(children.map((child) => child.kill()));
    throw error;
  }
  return children;
}
