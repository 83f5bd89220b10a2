import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ANSWER } from './producer-protocol.js';
import { buildRelayChild, PRODUCER_CHILD_ENTRY } from './relay-child-process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface Answer {
  id?: number;
  ready?: boolean;
  ok?: boolean;
  result?: unknown;
  error?: { code: string; message: string };
}

export interface ProducerProcess {
  process: ChildProcess;
  /** Runs one command in the child; rejects with its error (code and message). */
  call<T = unknown>(op: string, args?: Record<string, unknown>): Promise<T>;
  /** Resolves once the process has exited. */
  exited: Promise<void>;
  /** Closes stdin (the child closes its publisher and exits), or SIGKILLs it after 5 s. */
  close(): Promise<void>;
}

/** Starts `test/support/producer-child.ts` (compiled) with these publisher options. */
export async function spawnProducer(options: object): Promise<ProducerProcess> {
  await buildRelayChild();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PRODUCER_CHILD_OPTIONS: JSON.stringify(options),
  };
  delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, [PRODUCER_CHILD_ENTRY], {
    cwd: path.resolve(ROOT),
    env,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let nextId = 1;
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (!line.startsWith(`${ANSWER} `)) {
      process.stderr.write(`[producer] ${line}\n`);
      return;
    }
    const answer = JSON.parse(line.slice(ANSWER.length + 1)) as Answer;
    if (answer.ready) return markReady();
    const waiter = answer.id === undefined ? undefined : pending.get(answer.id);
    if (!waiter || answer.id === undefined) return;
    pending.delete(answer.id);
    if (answer.ok) waiter.resolve(answer.result);
    else {
      const error = new Error(answer.error?.message ?? 'producer failed') as Error & {
        code?: string;
      };
      error.code = answer.error?.code;
      waiter.reject(error);
    }
  });
  void exited.then(() => {
    for (const waiter of pending.values()) waiter.reject(new Error('producer process exited'));
    pending.clear();
  });
  await Promise.race([
    ready,
    exited.then(() => {
      throw new Error('producer process exited before it was ready');
    }),
  ]);
  return {
    process: child,
    exited,
    call: <T>(op: string, args: Record<string, unknown> = {}) =>
      new Promise<T>((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve: resolve, reject });
        child.stdin.write(`${JSON.stringify({ id, op, ...args })}\n`);
      }),
    close: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.stdin.end();
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}
