/**
 * Helpers for the chaos specs (test/chaos/instance-kill, redis-restart): producers that
 * drive `POST /debug/websocket/send` over HTTP, reads of the cluster's debug routes, and
 * an observer around `ThreadRelayClient` that records what the application was handed.
 */
import type { Socket } from 'socket.io-client';
import { ThreadRelayClient, type ThreadRelayClientError } from '../../src/client/index.js';
import type { ClientStatus, JoinResult } from '../../src/client/index.js';
import type { RelayStatusNotice } from '../../src/index.js';
import { signUserToken } from '../../src/index.js';
import { TEST_ADMIN_TOKEN, TEST_JWT_SECRET } from './relay-app.js';

export interface SendReceipt {
  messageId: string;
  threadId: string;
  seq: number;
  epoch: string;
  onlineConnections: number;
}

export type SendOutcome =
  | { ok: true; receipt: SendReceipt; ms: number }
  /** `status` 0: no HTTP answer at all (connection refused or reset, timeout). */
  | { ok: false; status: number; code: string; ms: number };

/**
 * One producer send: `POST /debug/websocket/send` with the admin token, to a thread id or
 * a run id (`{ runId }`). Never throws.
 */
export async function postSend(
  baseUrl: string,
  target: string | { runId: string },
  type: string,
  payload: object,
  timeoutMs = 10_000,
): Promise<SendOutcome> {
  const started = Date.now();
  try {
    const response = await fetch(`${baseUrl}/debug/websocket/send`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${TEST_ADMIN_TOKEN}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({
        ...(typeof target === 'string' ? { threadId: target } : target),
        type,
        payload,
      }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = (await response.json()) as Partial<SendReceipt> & {
      error?: { code?: string };
    };
    const ms = Date.now() - started;
    if (response.status >= 200 && response.status < 300) {
      return { ok: true, receipt: body as SendReceipt, ms };
    }
    return { ok: false, status: response.status, code: body.error?.code ?? 'UNKNOWN', ms };
  } catch (error) {
    const name = error instanceof Error ? error.name : 'Error';
    return { ok: false, status: 0, code: name, ms: Date.now() - started };
  }
}

async function adminGet<T>(baseUrl: string, path: string): Promise<T> {
  const response = await fetch(`${baseUrl}${path}`, {
    headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    signal: AbortSignal.timeout(5000),
  });
  if (response.status !== 200) throw new Error(`GET ${path} answered ${response.status}`);
  return (await response.json()) as T;
}

export interface DebugConnection {
  id: string;
  userId: string;
  instanceId: string;
  transport: string;
  threads: string[];
}

/** Every connection in the cluster's registry, as `GET /debug/websocket/connections` lists it. */
export async function debugConnections(baseUrl: string): Promise<DebugConnection[]> {
  const all: DebugConnection[] = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
    const page = await adminGet<{ connections: DebugConnection[]; nextCursor: string | null }>(
      baseUrl,
      `/debug/websocket/connections?limit=1000${query}`,
    );
    all.push(...page.connections);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return all;
}

export interface DebugThread {
  threadId: string;
  ownerId: string;
  headSeq: number;
  epoch: string;
}

/** Every registered thread with its log head, as `GET /debug/websocket/threads` lists it. */
export async function debugThreads(baseUrl: string): Promise<DebugThread[]> {
  const all: DebugThread[] = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
    const page = await adminGet<{ threads: DebugThread[]; nextCursor: string | null }>(
      baseUrl,
      `/debug/websocket/threads?limit=1000${query}`,
    );
    all.push(...page.threads);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return all;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A ThreadRelayClient with everything it hands the application recorded. */
export class ObservedClient {
  readonly client: ThreadRelayClient;
  /** App-level seqs per thread, in the order `onEvent` delivered them. */
  readonly seqs = new Map<string, number[]>();
  /** App-level event ids per thread, in delivery order. */
  readonly ids = new Map<string, string[]>();
  /** Epochs seen per thread. */
  readonly epochs = new Map<string, Set<string>>();
  readonly resets: string[] = [];
  readonly errors: ThreadRelayClientError[] = [];
  /** Every `onStatus` value, with when it happened. */
  readonly statuses: Array<{ status: ClientStatus; at: number }> = [];
  /** Seqs of the raw `thread:event`s per thread as they came off the socket (duplicates included). */
  readonly wire = new Map<string, number[]>();
  /** The answer to the first join of each thread. */
  readonly joins = new Map<string, JoinResult>();
  /** Every raw `relay:status` the socket received. */
  readonly notices: Array<{ notice: RelayStatusNotice; at: number }> = [];

  constructor(
    readonly label: string,
    readonly userId: string,
    readonly threads: string[],
    url: string,
  ) {
    this.client = new ThreadRelayClient({
      url,
      token: () => signUserToken(userId, TEST_JWT_SECRET),
      socketOptions: {
        transports: ['websocket'],
        reconnectionDelay: 100,
        reconnectionDelayMax: 500,
      },
    });
    for (const threadId of threads) {
      this.seqs.set(threadId, []);
      this.ids.set(threadId, []);
      this.epochs.set(threadId, new Set());
    }
    this.client.onEvent((event) => {
      this.seqs.get(event.threadId)?.push(event.seq);
      this.ids.get(event.threadId)?.push(event.id);
      this.epochs.get(event.threadId)?.add(event.epoch);
    });
    this.client.onReset((reset) => this.resets.push(`${reset.threadId}:${reset.reason}`));
    this.client.onError((error) => this.errors.push(error));
    this.client.onStatus((status) => this.statuses.push({ status, at: Date.now() }));
  }

  /** Connects, listens to raw `relay:status`, and joins every thread. */
  async start(): Promise<void> {
    await this.client.connect();
    // The socket object survives reconnects (its manager reconnects it), so one listener is enough.
    this.client.socket?.on('relay:status', (notice: RelayStatusNotice) =>
      this.notices.push({ notice, at: Date.now() }),
    );
    this.client.socket?.on('thread:event', (event: { threadId: string; seq: number }) => {
      const seqs = this.wire.get(event.threadId) ?? [];
      seqs.push(event.seq);
      this.wire.set(event.threadId, seqs);
    });
    await Promise.all(
      this.threads.map(async (threadId) =>
        this.joins.set(threadId, await this.client.join(threadId)),
      ),
    );
  }

  /** Events handed to the application, all threads together. */
  get eventCount(): number {
    let n = 0;
    for (const list of this.seqs.values()) n += list.length;
    return n;
  }

  /** Whether every joined thread has reached `heads` (count of app events, not content). */
  caughtUp(heads: Map<string, number>): boolean {
    return this.threads.every((t) => (this.seqs.get(t)?.length ?? 0) >= (heads.get(t) ?? 0));
  }

  /** For messages: how far behind each thread is, and what the client knows about it. */
  lag(heads: Map<string, number>): string {
    const threads = this.threads
      .map((t) => {
        const cursor = this.client.cursor(t);
        const join = this.joins.get(t);
        const at =
          `${cursor ? `cursor ${cursor.lastSeq}` : 'not joined'}, wire [${compress(this.wire.get(t) ?? [])}], ` +
          `joined at ${join ? `${join.headSeq}/${join.replayed}/${join.epoch}` : '-'} ` +
          `epoch ${cursor?.epoch ?? '-'}`;
        return `${t}:${this.seqs.get(t)?.length ?? 0}/${heads.get(t) ?? '?'} (${at})`;
      })
      .join(' ');
    const errors = this.errors
      .slice(-3)
      .map((e) => `${e.code}: ${e.message}`)
      .join(' | ');
    const socket = this.client.socket;
    return (
      `${threads} [status ${this.client.status}, socket ${socket?.id ?? '-'}` +
      `${socket?.connected ? '' : ' (down)'}, ${this.errors.length} errors${errors ? `: ${errors}` : ''}]`
    );
  }

  /**
   * Event ids the application was handed more than once in a thread (under different
   * seqs: the same send stored twice), as `threadId: id@seq,seq`.
   */
  get repeatedIds(): string[] {
    const repeated: string[] = [];
    for (const [threadId, ids] of this.ids) {
      const seqs = this.seqs.get(threadId) ?? [];
      const at = new Map<string, number[]>();
      ids.forEach((id, i) => at.set(id, [...(at.get(id) ?? []), seqs[i] ?? -1]));
      for (const [id, where] of at) {
        if (where.length > 1) repeated.push(`${threadId}: ${id}@${where.join(',')}`);
      }
    }
    return repeated;
  }

  /** Errors the SDK does not retry by itself (anything else is a normal part of recovery). */
  get fatalErrors(): string[] {
    return this.errors.filter((e) => !e.retryable).map((e) => `${e.code}: ${e.message}`);
  }
}

/** `1-4,6,8-9` */
export function compress(seqs: readonly number[]): string {
  const parts: string[] = [];
  let start: number | undefined;
  let prev: number | undefined;
  for (const seq of [...seqs, NaN]) {
    if (prev !== undefined && seq === prev + 1) {
      prev = seq;
      continue;
    }
    if (start !== undefined) parts.push(start === prev ? `${start}` : `${start}-${prev}`);
    start = seq;
    prev = seq;
  }
  return parts.join(',');
}

/** 1..n */
export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}

/**
 * What every chaos spec demands of each observed client at the end: per joined thread,
 * exactly seq 1..head in order, every acknowledged seq among them, the thread's one epoch;
 * no reset, no event id seen twice, no error the SDK could not retry.
 */
export function expectExactlyOnce(
  c: ObservedClient,
  heads: ReadonlyMap<string, number>,
  ackedSeqs: (threadId: string) => readonly number[],
  epochs: ReadonlyMap<string, ReadonlySet<string>>,
): void {
  for (const threadId of c.threads) {
    const seen = c.seqs.get(threadId)!;
    expect({ client: c.label, threadId, seqs: seen }).toEqual({
      client: c.label,
      threadId,
      seqs: range(heads.get(threadId)!),
    });
    const missing = ackedSeqs(threadId).filter((s) => !seen.includes(s));
    expect({ client: c.label, threadId, missing }).toEqual({
      client: c.label,
      threadId,
      missing: [],
    });
    expect([...c.epochs.get(threadId)!]).toEqual([...epochs.get(threadId)!]);
  }
  expect({ client: c.label, resets: c.resets }).toEqual({ client: c.label, resets: [] });
  // The same event (id) under two seqs would be a duplicate for the application.
  expect({ client: c.label, repeated: c.repeatedIds }).toEqual({
    client: c.label,
    repeated: [],
  });
  expect({ client: c.label, errors: c.fatalErrors }).toEqual({ client: c.label, errors: [] });
}

/**
 * Waits until every frame each relay connection had already been sent has arrived: the
 * answer to a request is written after everything queued before it on that connection.
 * After it, a late duplicate or replay the server had sent would be in the client's lists.
 * The request is a cumulative ack of seq 1, which moves no cursor once later seqs are acked.
 */
export async function drainSockets(
  connections: ReadonlyArray<{ socket: Socket | null; threadId: string }>,
): Promise<void> {
  await Promise.all(
    connections.map(async ({ socket, threadId }) => {
      if (!socket?.connected) throw new Error(`drain: the socket of ${threadId} is not connected`);
      await socket.timeout(10_000).emitWithAck('thread:ack', { threadId, seq: 1 });
    }),
  );
}
