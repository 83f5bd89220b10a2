import {
  ThreadRelayClient,
  type ClientStatus,
  type ThreadEvent,
  type ThreadRelayClientError,
  type ThreadRelayClientOptions,
  type ThreadResetEvent,
} from '../../../src/client/index.js';
import type { FakeRelayServer } from './fake-relay-server.js';
import { Signal, waitUntil } from './signal.js';

/** A client with test-speed timings and everything it reports recorded. */
export class ClientHarness {
  readonly client: ThreadRelayClient;
  readonly events: ThreadEvent[] = [];
  readonly resets: ThreadResetEvent[] = [];
  readonly statuses: ClientStatus[] = [];
  readonly errors: ThreadRelayClientError[] = [];
  readonly changed = new Signal();

  constructor(
    readonly server: FakeRelayServer,
    overrides: Partial<ThreadRelayClientOptions> = {},
  ) {
    this.client = new ThreadRelayClient({
      url: server.url,
      token: 'tok-static',
      pollAfterMs: 10_000,
      pollIntervalMs: 50,
      ackBatchMs: 30,
      gapGraceMs: 100,
      requestTimeoutMs: 2000,
      sendTimeoutMs: 8000,
      ...overrides,
      socketOptions: {
        transports: ['websocket'],
        reconnectionDelay: 50,
        reconnectionDelayMax: 200,
        ...overrides.socketOptions,
      },
    });
    this.client.onEvent((event) => this.record(this.events, event));
    this.client.onReset((reset) => this.record(this.resets, reset));
    this.client.onStatus((status) => this.record(this.statuses, status));
    this.client.onError((error) => this.record(this.errors, error));
  }

  seqs(threadId: string): number[] {
    return this.events.filter((event) => event.threadId === threadId).map((event) => event.seq);
  }

  /** Waits until the app has seen `count` events of the thread. */
  async received(threadId: string, count: number, timeoutMs?: number): Promise<void> {
    await this.until(
      () => this.seqs(threadId).length >= count,
      `${count} events of ${threadId} (have ${this.seqs(threadId).join(',')})`,
      timeoutMs,
    );
  }

  async status(status: ClientStatus, timeoutMs?: number): Promise<void> {
    await this.until(() => this.client.status === status, `status ${status}`, timeoutMs);
  }

  /** Re-checks on anything the client or the server reports. */
  until(check: () => boolean, what: string, timeoutMs?: number): Promise<void> {
    return waitUntil([this.changed, this.server.changed], check, what, timeoutMs);
  }

  private record<T>(list: T[], value: T): void {
    list.push(value);
    this.changed.notify();
  }
}

export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, index) => from + index);
}
