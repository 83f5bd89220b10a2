import { spawn, type ChildProcess } from 'node:child_process';
import { waitUntil } from './wait-until.js';

export interface ChildOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /**
   * `pipe` for children that read commands from stdin or watch it to notice that the test
   * went away; default `ignore`.
   */
  stdin?: 'pipe' | 'ignore';
  /** `collect` keeps stderr apart (see `stderr()`); `inherit` shows it in the test's output. */
  stderr?: 'collect' | 'inherit';
}

/** A process a test started, with what it printed so far. */
export interface Child {
  process: ChildProcess;
  /** Everything read from stdout. */
  stdout(): string;
  /** Everything read from stderr when collected. */
  stderr(): string;
  /** Resolves with the exit code (null when a signal ended it) once stdout and stderr are read. */
  exited: Promise<number | null>;
  /** Why the process could not be started (no such command), if it could not. */
  spawnError(): Error | undefined;
  running(): boolean;
  /** Resolves with the first match in stdout; rejects when the child exits first or on timeout. */
  waitForOutput(pattern: RegExp, what: string, timeoutMs: number): Promise<RegExpExecArray>;
  /**
   * Asks it to stop (closes its stdin when piped: the children of these tests close and exit
   * then; SIGTERM otherwise), and SIGKILLs it when it is still running after `graceMs`.
   */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL: no shutdown hook of the child runs. */
  kill(): Promise<void>;
}

export function startChild(command: string, args: string[], options: ChildOptions = {}): Child {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env,
    stdio: [options.stdin ?? 'ignore', 'pipe', options.stderr === 'inherit' ? 'inherit' : 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  let spawnError: Error | undefined;
  // A child that could not start (`error`: no such command) never emits `close`.
  const exited = new Promise<number | null>((resolve) => {
    child.once('error', (error) => {
      spawnError = error;
      resolve(null);
    });
    child.once('close', (code) => resolve(code));
  });
  let ended = false;
  void exited.then(() => (ended = true));
  const running = () => !ended && child.exitCode === null && child.signalCode === null;
  return {
    process: child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    spawnError: () => spawnError,
    running,
    async waitForOutput(pattern, what, timeoutMs) {
      const found: { match?: RegExpExecArray | null } = {};
      await waitUntil(
        () => {
          found.match = pattern.exec(stdout);
          if (found.match) return true;
          if (!running()) throw new Error(`${what}: the process exited first\n${stdout}${stderr}`);
          return false;
        },
        what,
        { timeoutMs, detail: () => `${stdout}${stderr}` },
      );
      return found.match!;
    },
    async stop(graceMs = 5_000) {
      if (running()) {
        if (child.stdin) child.stdin.end();
        else child.kill('SIGTERM');
      }
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
    async kill() {
      if (running()) child.kill('SIGKILL');
      await exited;
    },
  };
}

export interface ChildRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to its end and returns what it printed; SIGKILLs it after `timeoutMs` when
 * given. Rejects only when it could not be started.
 */
export async function runChild(
  command: string,
  args: string[],
  options: ChildOptions & { timeoutMs?: number } = {},
): Promise<ChildRun> {
  const child = startChild(command, args, options);
  const { timeoutMs } = options;
  const killer =
    timeoutMs === undefined ? undefined : setTimeout(() => void child.kill(), timeoutMs);
  const code = await child.exited;
  clearTimeout(killer);
  const error = child.spawnError();
  if (error) throw error;
  return { code, stdout: child.stdout(), stderr: child.stderr() };
}
