import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { buildRelayChild, PRODUCER_CHILD_ENTRY, startCompiledChild } from './child-build.js';
import { ANSWER } from './producer-protocol.js';

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
  const started = startCompiledChild(PRODUCER_CHILD_ENTRY, {
    PRODUCER_CHILD_OPTIONS: JSON.stringify(options),
  });
  const child = started.process;
  const exited = started.exited.then(() => undefined);
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let nextId = 1;
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (!line.startsWith(`${ANSWER} `)) {
      process.stderr.write(`[producer] ${line}\n`);
      return;
    }
    const answer = JSON.parse(line.slice(ANSWER.length + 1)) as Answer;
    if (answer.ready) return;
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
  await started.waitForOutput(
    new RegExp(`^${ANSWER} \\{"ready":true\\}$`, 'm'),
    'the producer process to be ready',
    30_000,
  );
  return {
    process: child,
    exited,
    call: <T>(op: string, args: Record<string, unknown> = {}) =>
      new Promise<T>((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve: resolve, reject });
        child.stdin!.write(`${JSON.stringify({ id, op, ...args })}\n`);
      }),
    close: () => started.stop(),
  };
}
