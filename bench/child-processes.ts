/**
 * The bench's child processes (servers, client fleets, producers): forked from the compiled
 * bench, each answering RPC calls, all stopped together when the bench ends.
 */
import { fork } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RpcChild } from './rpc.js';
import { runSettings } from './run-settings.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** The project root: HERE is <root>/node_modules/.cache/thread-relay-bench/bench. */
export const ROOT = path.resolve(HERE, '..', '..', '..', '..');

const children = new Set<RpcChild>();

/** Forks `entry` (a compiled bench file, e.g. `server.js`) as the child `name`. */
export function spawnChild(name: string, entry: string): RpcChild {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  // BENCH_NODE_ARGS: extra node flags for every child (e.g. --trace-gc), for investigations.
  const execArgv = [
    '--expose-gc',
    ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean),
  ];
  if (runSettings.allocProfile) {
    const dir = path.join(ROOT, 'bench', 'profiles');
    mkdirSync(dir, { recursive: true });
    env.BENCH_ALLOC_PROFILE = path.join(dir, `${runSettings.runId}-${name}`);
  }
  if (runSettings.profile) {
    const dir = path.join(ROOT, 'bench', 'profiles');
    mkdirSync(dir, { recursive: true });
    execArgv.push(
      '--cpu-prof',
      `--cpu-prof-dir=${dir}`,
      `--cpu-prof-name=${runSettings.runId}-${name}.cpuprofile`,
    );
  }
  const child = new RpcChild(
    name,
    fork(path.join(HERE, entry), [], { cwd: ROOT, env, execArgv, stdio: 'inherit' }),
  );
  children.add(child);
  void child.exited.then(() => children.delete(child));
  return child;
}

export async function stopAll(procs: RpcChild[]): Promise<void> {
  await Promise.all(procs.map((proc) => proc.stop()));
}

/** Stops every child still running, briefly: the bench is ending or interrupted. */
export async function stopChildren(): Promise<void> {
  await Promise.all([...children].map((child) => child.stop(2_000)));
}
