/**
 * The delivery probe: signs in through the reference server's dev route, connects with
 * the client SDK over WebSocket, opens a new thread, sends one user message and waits for
 * the agent's `agent_completed`. Imports the client SDK only (no Nest), so it runs from
 * the compiled `dist/` and inside tests alike.
 */
import { randomBytes } from 'node:crypto';
import {
  ThreadRelayClient,
  ThreadRelayClientError,
  type ClientStatus,
  type ThreadEvent,
} from '../../src/client/index.js';

export type ProbeFailure =
  | 'SERVER_DOWN'
  | 'DEV_TOKEN_UNAVAILABLE'
  | 'BAD_REQUEST'
  | 'UNAUTHORIZED'
  | 'REFUSED'
  | 'TIMEOUT'
  | 'OUT_OF_ORDER';

/** A probe that did not see the agent's run through; `code` says why. */
export class ProbeError extends Error {
  constructor(
    readonly code: ProbeFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ProbeError';
  }
}

export interface ProbeOptions {
  /** Server base URL, e.g. `http://localhost:8000`. */
  url: string;
  userId: string;
  message: string;
  /** Deadline for the whole probe, from sign-in to `agent_completed`. */
  timeoutMs: number;
  /** A token to use instead of asking `POST /auth/dev-token` (servers in production). */
  token?: string;
  /** Defaults to a new `thread_<16 hex>`. */
  threadId?: string;
  /** Called for each step and each event as it happens. */
  report?: (line: ProbeReport) => void;
}

export type ProbeReport =
  | { kind: 'step'; text: string; elapsedMs: number }
  | { kind: 'event'; event: ThreadEvent; sinceSendMs: number; latencyMs: number };

export interface ProbeEventRecord {
  event: ThreadEvent;
  /** From the moment the message was sent to the event's arrival here. */
  sinceSendMs: number;
  /** From the server's timestamp (`event.ts`) to the event's arrival here. */
  latencyMs: number;
}

export interface ProbeResult {
  threadId: string;
  /** The agent's run, taken from its `agent_completed` event. */
  runId: string;
  /** Seq of the user message in the thread log. */
  sentSeq: number;
  events: ProbeEventRecord[];
  /** From send to `agent_completed`. */
  roundTripMs: number;
  /** From start to the end (sign-in, connect, join, round trip). */
  totalMs: number;
}

export const COMPLETED_TYPE = 'agent_completed';

export function newProbeThreadId(): string {
  return `thread_${randomBytes(8).toString('hex')}`;
}

export async function runDeliveryProbe(options: ProbeOptions): Promise<ProbeResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const deadline = Date.now() + options.timeoutMs;
  const remaining = () => Math.max(0, deadline - Date.now());
  const report = options.report ?? (() => undefined);
  const step = (text: string) => report({ kind: 'step', text, elapsedMs: elapsed() });
  const baseUrl = options.url.replace(/\/+$/, '');

  const token = options.token ?? (await devToken(baseUrl, options.userId, remaining()));
  step(options.token ? 'using the given token' : `signed in as ${options.userId}`);

  const threadId = options.threadId ?? newProbeThreadId();
  const client = new ThreadRelayClient({
    url: baseUrl,
    token,
    // A WebSocket probe: REST polling would hide a broken socket, so it never starts.
    pollAfterMs: options.timeoutMs + 60_000,
    requestTimeoutMs: Math.max(1000, Math.min(10_000, options.timeoutMs)),
    sendTimeoutMs: Math.max(1000, options.timeoutMs),
    socketOptions: { transports: ['websocket'] },
  });
  const events: ProbeEventRecord[] = [];
  let sentAt = 0;
  let sentSeq = 0;
  const clientErrors: string[] = [];
  let completed: (event: ThreadEvent) => void = () => undefined;
  const completion = new Promise<ThreadEvent>((resolve) => {
    completed = resolve;
  });
  let outOfOrder: string | null = null;
  let statuses: ClientStatus[] = [];

  client.onStatus((status) => {
    statuses = [...statuses, status];
  });
  client.onError((error) => clientErrors.push(`${error.code}: ${error.message}`));
  client.onEvent((event) => {
    if (event.threadId !== threadId) return;
    const now = performance.now();
    const previous = events.at(-1)?.event.seq;
    if (previous !== undefined && event.seq !== previous + 1) {
      outOfOrder ??= `seq ${event.seq} arrived after seq ${previous}`;
    }
    const record: ProbeEventRecord = {
      event,
      sinceSendMs: sentAt === 0 ? 0 : Math.round(now - sentAt),
      latencyMs: Math.max(0, Date.now() - event.ts),
    };
    events.push(record);
    report({ kind: 'event', ...record });
    if (event.type === COMPLETED_TYPE && sentSeq > 0 && event.seq > sentSeq) completed(event);
  });

  try {
    await withDeadline(client.connect(), remaining(), () => 'connecting over WebSocket');
    step(`connected over WebSocket (${String(client.socket?.io.engine.transport.name)})`);
    const joined = await withDeadline(client.join(threadId), remaining(), () => 'joining');
    step(`joined ${threadId} (epoch ${joined.epoch}, head seq ${joined.headSeq})`);

    sentAt = performance.now();
    const sent = await withDeadline(
      client.send(threadId, options.message),
      remaining(),
      () => 'sending',
    );
    sentSeq = sent.seq;
    step(`sent ${JSON.stringify(options.message)} as seq ${sent.seq}`);
    // agent_completed may have arrived before the send's answer.
    const done = events.find((r) => r.event.type === COMPLETED_TYPE && r.event.seq > sentSeq);
    if (done) completed(done.event);

    const last = await withDeadline(
      completion,
      remaining(),
      () =>
        `waiting for ${COMPLETED_TYPE} (got ${events.length} event(s): ` +
        `${events.map((r) => r.event.type).join(', ') || 'none'})`,
    );
    if (outOfOrder !== null) throw new ProbeError('OUT_OF_ORDER', outOfOrder);
    return {
      threadId,
      runId: last.runId ?? '',
      sentSeq,
      events: [...events],
      roundTripMs: Math.round(performance.now() - sentAt),
      totalMs: elapsed(),
    };
  } catch (error) {
    throw asProbeError(error, options.timeoutMs, clientErrors, statuses);
  } finally {
    await client.close();
  }
}

async function devToken(baseUrl: string, userId: string, timeoutMs: number): Promise<string> {
  let response: Response;
  try {
    response = await fetch(`${baseUrl}/auth/dev-token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId }),
      signal: AbortSignal.timeout(Math.max(1, timeoutMs)),
    });
  } catch (error) {
    if (error instanceof DOMException && error.name === 'TimeoutError') {
      throw new ProbeError('TIMEOUT', `no answer from ${baseUrl} within ${timeoutMs} ms`);
    }
    throw new ProbeError('SERVER_DOWN', `cannot reach ${baseUrl}: ${describeCause(error)}`, {
      cause: error,
    });
  }
  const body: unknown = await response.json().catch(() => null);
  if (response.status === 404) {
    throw new ProbeError(
      'DEV_TOKEN_UNAVAILABLE',
      `POST ${baseUrl}/auth/dev-token answered 404: dev sign-in is off ` +
        '(NODE_ENV=production?) or this is not the reference server; pass --token',
    );
  }
  if (!response.ok) {
    const code = response.status === 400 ? 'BAD_REQUEST' : 'REFUSED';
    throw new ProbeError(
      code,
      `POST /auth/dev-token answered ${response.status}: ${errorMessage(body)}`,
    );
  }
  const token =
    typeof body === 'object' && body !== null && 'token' in body && typeof body.token === 'string'
      ? body.token
      : '';
  if (token === '') throw new ProbeError('REFUSED', 'POST /auth/dev-token answered no token');
  return token;
}

class DeadlineExceeded extends Error {}

function withDeadline<T>(promise: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineExceeded(what())), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function asProbeError(
  error: unknown,
  timeoutMs: number,
  clientErrors: string[],
  statuses: ClientStatus[],
): ProbeError {
  if (error instanceof ProbeError) return error;
  const seen = clientErrors.length > 0 ? `; client errors: ${clientErrors.join('; ')}` : '';
  if (error instanceof DeadlineExceeded) {
    return new ProbeError(
      'TIMEOUT',
      `timed out after ${timeoutMs} ms ${error.message} (status ${statuses.join(' -> ') || 'idle'})${seen}`,
    );
  }
  if (error instanceof ThreadRelayClientError) {
    if (error.code === 'UNAUTHORIZED') {
      return new ProbeError('UNAUTHORIZED', `the server refused the token: ${error.message}`, {
        cause: error,
      });
    }
    return new ProbeError('REFUSED', `${error.code}: ${error.message}${seen}`, { cause: error });
  }
  return new ProbeError('REFUSED', `${describeCause(error)}${seen}`, { cause: error });
}

function describeCause(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause: unknown = error.cause;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return code ? `${code} (${cause.message})` : cause.message;
  }
  return error.message;
}

function errorMessage(body: unknown): string {
  if (typeof body === 'object' && body !== null && 'error' in body) {
    const inner: unknown = body.error;
    if (typeof inner === 'object' && inner !== null && 'message' in inner) {
      return String(inner.message);
    }
  }
  return JSON.stringify(body);
}
