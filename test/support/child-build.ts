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
import { runChild, startChild, type Child } from './child-process.js';
import { waitUntil } from './wait-until.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Under node_modules so the compiled code resolves the project's dependencies. */
const BUILD_DIR = path.join(ROOT, 'node_modules', '.cache', 'thread-relay-child');
const OUT_DIR = path.join(BUILD_DIR, 'out');
const compiled = (name: string) => path.join(OUT_DIR, 'test', 'support', `${name}.js`);
/** A relay instance (`startRelayApp`) with the options it is given. */
export const RELAY_CHILD_ENTRY = compiled('relay-child');
/** A producer process (`createPublisher` only). */
export const PRODUCER_CHILD_ENTRY = compiled('producer-child');
/** The reference server. */
export const REFERENCE_CHILD_ENTRY = compiled('reference-child');
const LOCK_DIR = path.join(BUILD_DIR, 'build.lock');
/** A lock older than this was left by a killed run. */
const STALE_LOCK_MS = 120_000;

/** Takes the lock unless another worker holds it; clears a lock a killed run left. */
function tryLock(): boolean {
  try {
    mkdirSync(LOCK_DIR);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    try {
      if (Date.now() - statSync(LOCK_DIR).mtimeMs > STALE_LOCK_MS)
        rmSync(LOCK_DIR, { recursive: true, force: true });
    } catch {
      // Released between the two calls.
    }
    return false;
  }
}

/**
 * Jest runs suites in parallel workers and several of them build the children: one tsc at
 * a time, so no worker starts a child from a file another worker is half-way writing.
 */
async function withBuildLock<T>(timeoutMs: number, work: () => Promise<T>): Promise<T> {
  mkdirSync(BUILD_DIR, { recursive: true });
  await waitUntil(tryLock, `the build lock ${LOCK_DIR}`, { timeoutMs, intervalMs: 100 });
  try {
    return await work();
  } finally {
    rmSync(LOCK_DIR, { recursive: true, force: true });
  }
}

/**
 * Compiles the child entry points (`relay-child.ts`, `reference-child.ts`,
 * `producer-child.ts`) and the sources they import with tsc (decorator metadata included,
 * which Nest's injection needs), incrementally, into a cache directory. Returns the
 * compiled relay child.
 */
export async function buildRelayChild(timeoutMs = 60_000): Promise<string> {
  await withBuildLock(2 * timeoutMs, () => compileChildren(timeoutMs));
  return RELAY_CHILD_ENTRY;
}

async function compileChildren(timeoutMs: number): Promise<void> {
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
        files: ['relay-child', 'reference-child', 'producer-child'].map((name) =>
          path.join(ROOT, 'test', 'support', `${name}.ts`),
        ),
      },
      null,
      2,
    ),
  );
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const run = await runChild(process.execPath, [tsc, '-p', config], { cwd: ROOT, timeoutMs });
  if (run.code !== 0) {
    throw new Error(
      `compiling the child processes failed (exit ${run.code}, ${timeoutMs} ms allowed):\n` +
        `${run.stdout}${run.stderr}`,
    );
  }
}

/**
 * Starts a compiled entry point with `node`, its stdin open (the child stops when the test
 * goes away) and its stderr shown in the test's. Jest's NODE_OPTIONS are not passed on.
 */
export function startCompiledChild(entry: string, env: NodeJS.ProcessEnv): Child {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete childEnv.NODE_OPTIONS;
  return startChild(process.execPath, [entry], {
    cwd: ROOT,
    env: childEnv,
    stdin: 'pipe',
    stderr: 'inherit',
  });
}
