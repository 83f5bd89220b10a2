/**
 * Request/reply over the `child_process.fork` IPC channel: the orchestrator calls named
 * commands on its children (servers, client fleets) and awaits their answers.
 */
import type { ChildProcess } from 'node:child_process';

interface RpcRequest {
  rpc: number;
  cmd: string;
  args: unknown;
}

interface RpcReply {
  rpc: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

export type RpcHandlers = Record<string, (args: never) => unknown>;

function isRequest(message: unknown): message is RpcRequest {
  return (
    typeof message === 'object' &&
    message !== null &&
    typeof (message as RpcRequest).rpc === 'number' &&
    typeof (message as RpcRequest).cmd === 'string'
  );
}

/** In a child: answers the parent's calls with `handlers`; exits when the parent goes away. */
export function serveRpc(handlers: RpcHandlers): void {
  const send = process.send?.bind(process);
  if (!send) throw new Error('bench children must be started with child_process.fork');
  process.on('message', (message: unknown) => {
    if (!isRequest(message)) return;
    const handler = handlers[message.cmd];
    const reply = (body: Omit<RpcReply, 'rpc'>) => send({ rpc: message.rpc, ...body });
    if (!handler) {
      reply({ ok: false, error: `unknown command ${message.cmd}` });
      return;
    }
    Promise.resolve()
      .then(() => handler(message.args as never))
      .then(
        (result) => reply({ ok: true, result: result ?? null }),
        (error: unknown) =>
          reply({ ok: false, error: error instanceof Error ? error.stack : String(error) }),
      );
  });
  process.on('disconnect', () => process.exit(0));
}

/** In the parent: a forked child that answers `call`s. */
export class RpcChild {
  private next = 1;
  private readonly pending = new Map<
    number,
    { resolve: (value: unknown) => void; reject: (error: Error) => void }
  >();
  readonly exited: Promise<number | null>;

  constructor(
    readonly name: string,
    readonly process: ChildProcess,
  ) {
    process.on('message', (message: unknown) => {
      const reply = message as RpcReply;
      const waiter = this.pending.get(reply.rpc);
      if (!waiter) return;
      this.pending.delete(reply.rpc);
      if (reply.ok) waiter.resolve(reply.result);
      else waiter.reject(new Error(`${name}: ${reply.error}`));
    });
    this.exited = new Promise((resolve) => {
      process.once('exit', (code) => {
        for (const waiter of this.pending.values()) {
          waiter.reject(new Error(`${name} exited (code ${code}) before answering`));
        }
        this.pending.clear();
        resolve(code);
      });
    });
  }

  call<T>(cmd: string, args: object = {}, timeoutMs = 120_000): Promise<T> {
    const rpc = this.next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(rpc);
        reject(new Error(`${this.name}: ${cmd} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(rpc, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value as T);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.process.send({ rpc, cmd, args } satisfies RpcRequest);
    });
  }

  /** Asks the child to stop, then kills it if it has not exited within `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    await this.call('stop', {}, graceMs).catch(() => undefined);
    const timer = setTimeout(() => this.process.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}
