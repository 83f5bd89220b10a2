import type { io, ManagerOptions, SocketOptions } from 'socket.io-client';
import type { ThreadEvent, ThreadResetNotice } from '../protocol.js';
import { ThreadRelayClientError } from './client-error.js';
import type { FetchLike } from './relay-rest-api.js';

/**
 * A token, or a function asked for one at every (re)connect and REST call, and before the
 * connection's credential expires (see `renewBeforeMs`). Only a function allows renewal.
 */
export type TokenSource = string | (() => string | Promise<string>);

export interface ThreadRelayClientOptions {
  /** Server base URL, e.g. `https://relay.example.com`; REST routes hang off it. */
  url: string;
  token: TokenSource;
  /** socket.io namespace of the relay gateway (default '/'). */
  namespace?: string;
  /** socket.io path (default '/socket.io'). */
  path?: string;
  /** Passed to `io()`; `auth` and `autoConnect` are the client's own. */
  socketOptions?: Partial<ManagerOptions & SocketOptions>;
  /**
   * A socket down longer than this (or never up) switches to the fallback (default 3000):
   * each thread's Server-Sent Events stream, else REST polling. The socket keeps trying
   * meanwhile and takes over again once it connects.
   */
  pollAfterMs?: number;
  /** Polling period for threads no event stream carries (default 1000). */
  pollIntervalMs?: number;
  /**
   * Whether the fallback tries Server-Sent Events before REST polling (default true). SSE
   * needs no sticky sessions and delivers as soon as the relay has an event; a proxy that
   * refuses or buffers it is detected, and the client polls instead.
   */
  sse?: boolean;
  /**
   * Threads followed over Server-Sent Events at once (default 4); the others are polled.
   * Each stream holds an HTTP connection, and browsers open about six per origin over
   * HTTP/1.1: the rest must stay free for sends and history reads. Raise it behind HTTP/2.
   */
  maxEventStreams?: number;
  /**
   * An event stream that brings nothing, not even the relay's heartbeat (`sse.heartbeatMs`,
   * 15 s by default), for this long is taken for dead and opened again (default 45000).
   */
  streamIdleTimeoutMs?: number;
  /** A delivery is acknowledged this long after it, with whatever else arrived meanwhile (default 50). */
  ackBatchMs?: number;
  /**
   * A thread is acknowledged at most once per this interval (default 250): a thread that
   * streams events costs a few acks a second instead of one per event. `waitForDelivery`
   * on the server resolves up to this much later for such a thread; 0 acks every batch.
   */
  ackIntervalMs?: number;
  /** How long an out-of-order gap may wait for in-flight events before history is read (default 200). */
  gapGraceMs?: number;
  /** Timeout of each socket request and REST call (default 10000). */
  requestTimeoutMs?: number;
  /** How long `send()` keeps retrying before it gives up (default 30000). */
  sendTimeoutMs?: number;
  /** Page size for history reads (default 200). */
  historyPageSize?: number;
  /**
   * When the server says the connection's credential expires (`relay:session`), a fresh
   * token from the token function is sent this long before it does (default 60000), or a
   * third of the credential's lifetime before when that is sooner. A string token cannot
   * be renewed: the server closes the connection at expiry and the reconnect sends it again.
   */
  renewBeforeMs?: number;
  /**
   * Joins waiting for the server's answer at once, per connection (default 4); the others
   * wait their turn. Every (re)connect joins every thread, and the server refuses joins
   * past its `limits.concurrentJoinsPerConnection` (default 4).
   */
  maxConcurrentJoins?: number;
  /** Defaults to the global `fetch`. */
  fetch?: typeof fetch;
  /** Defaults to socket.io-client's `io`; tests pass their own. */
  io?: typeof io;
}

export interface ResolvedClientOptions {
  restUrl: string;
  socketUrl: string;
  token: TokenSource;
  path: string | undefined;
  socketOptions: Partial<ManagerOptions & SocketOptions>;
  pollAfterMs: number;
  pollIntervalMs: number;
  sse: boolean;
  maxEventStreams: number;
  streamIdleTimeoutMs: number;
  ackBatchMs: number;
  ackIntervalMs: number;
  gapGraceMs: number;
  requestTimeoutMs: number;
  sendTimeoutMs: number;
  historyPageSize: number;
  renewBeforeMs: number;
  maxConcurrentJoins: number;
  fetch: FetchLike;
}

/**
 * `idle` before `connect()`; `connecting` until the first connect; `connected`;
 * `degraded` while connected but the server reports degraded mode; `reconnecting` while
 * the socket is down; once it has been down longer than `pollAfterMs`, `streaming` while
 * Server-Sent Events carry at least one thread, else `polling`; `closed` after `close()`.
 */
export type ClientStatus =
  | 'idle'
  | 'connecting'
  | 'connected'
  | 'degraded'
  | 'reconnecting'
  | 'streaming'
  | 'polling'
  | 'closed';

/**
 * What carries events: the socket.io transport in use, or the fallback's (`sse`: at least
 * one thread over Server-Sent Events; `polling`: REST history reads only).
 */
export type ClientTransport = 'websocket' | 'webtransport' | 'long-polling' | 'sse' | 'polling';

export interface JoinOptions {
  /** Last seq the application already has (as returned by `cursor()`); replay starts after it. */
  lastSeq?: number;
  /** First seq the application wants (`lastSeq + 1`); ignored when `lastSeq` is given. */
  fromSeq?: number;
  /** Epoch the seqs belong to; a mismatch with the server's log leads to `onReset`. */
  epoch?: string;
}

export interface SendOptions {
  /** Defaults to a new random id; pass your own to make retries across page loads idempotent. */
  clientMessageId?: string;
}

/** A reset, with the thread's history as reloaded from the log. */
export interface ThreadResetEvent extends ThreadResetNotice {
  events: ThreadEvent[];
}

/** Events the server sends to a user outside any thread (`sendToUser`). */
export interface UserEvent {
  id: string;
  type: string;
  payload: unknown;
  ts: number;
  [key: string]: unknown;
}

export type EventHandler = (event: ThreadEvent) => void;
export type ResetHandler = (reset: ThreadResetEvent) => void;
export type StatusHandler = (status: ClientStatus) => void;
export type TransportHandler = (transport: ClientTransport | null) => void;
export type ErrorHandler = (error: ThreadRelayClientError) => void;
export type UserEventHandler = (event: UserEvent) => void;

const DEFAULTS = {
  pollAfterMs: 3000,
  pollIntervalMs: 1000,
  streamIdleTimeoutMs: 45_000,
  maxEventStreams: 4,
  ackBatchMs: 50,
  ackIntervalMs: 250,
  gapGraceMs: 200,
  requestTimeoutMs: 10_000,
  sendTimeoutMs: 30_000,
  historyPageSize: 200,
  renewBeforeMs: 60_000,
  maxConcurrentJoins: 4,
} as const;

export function resolveClientOptions(options: ThreadRelayClientOptions): ResolvedClientOptions {
  let base: URL;
  try {
    base = new URL(options.url);
  } catch (error) {
    invalid('url', `must be an absolute URL, got ${JSON.stringify(options.url)}`, error);
  }
  const namespace = options.namespace ?? '/';
  if (!namespace.startsWith('/')) invalid('namespace', 'must start with "/"');
  if (typeof options.token !== 'string' && typeof options.token !== 'function') {
    invalid('token', 'must be a string or a function returning one');
  }
  const fetchFn = options.fetch ?? globalThis.fetch;
  if (typeof fetchFn !== 'function') invalid('fetch', 'no global fetch; pass one');
  return {
    restUrl: base.href.replace(/\/+$/, ''),
    // The URL's path would be taken for a namespace by io(), so the socket gets the origin.
    socketUrl: `${base.origin}${namespace === '/' ? '' : namespace}`,
    token: options.token,
    path: options.path,
    socketOptions: options.socketOptions ?? {},
    pollAfterMs: positive('pollAfterMs', options.pollAfterMs, DEFAULTS.pollAfterMs),
    pollIntervalMs: positive('pollIntervalMs', options.pollIntervalMs, DEFAULTS.pollIntervalMs),
    sse: flag('sse', options.sse, true),
    maxEventStreams: positiveInteger(
      'maxEventStreams',
      options.maxEventStreams,
      DEFAULTS.maxEventStreams,
    ),
    streamIdleTimeoutMs: positive(
      'streamIdleTimeoutMs',
      options.streamIdleTimeoutMs,
      DEFAULTS.streamIdleTimeoutMs,
    ),
    ackBatchMs: positive('ackBatchMs', options.ackBatchMs, DEFAULTS.ackBatchMs, true),
    ackIntervalMs: positive('ackIntervalMs', options.ackIntervalMs, DEFAULTS.ackIntervalMs, true),
    gapGraceMs: positive('gapGraceMs', options.gapGraceMs, DEFAULTS.gapGraceMs, true),
    requestTimeoutMs: positive(
      'requestTimeoutMs',
      options.requestTimeoutMs,
      DEFAULTS.requestTimeoutMs,
    ),
    sendTimeoutMs: positive('sendTimeoutMs', options.sendTimeoutMs, DEFAULTS.sendTimeoutMs),
    historyPageSize: positive('historyPageSize', options.historyPageSize, DEFAULTS.historyPageSize),
    renewBeforeMs: positive('renewBeforeMs', options.renewBeforeMs, DEFAULTS.renewBeforeMs),
    maxConcurrentJoins: positiveInteger(
      'maxConcurrentJoins',
      options.maxConcurrentJoins,
      DEFAULTS.maxConcurrentJoins,
    ),
    // Browsers throw "Illegal invocation" when fetch is called detached from window.
    fetch: (input, init) => fetchFn(input, init),
  };
}

function positive(
  name: string,
  value: number | undefined,
  fallback: number,
  zeroOk = false,
): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0 || (value === 0 && !zeroOk)) {
    invalid(name, `must be a ${zeroOk ? 'non-negative' : 'positive'} number, got ${value}`);
  }
  return value;
}

function flag(name: string, value: boolean | undefined, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') invalid(name, `must be true or false, got ${String(value)}`);
  return value;
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) {
    invalid(name, `must be an integer >= 1, got ${value}`);
  }
  return value;
}

function invalid(option: string, message: string, cause?: unknown): never {
  throw new ThreadRelayClientError(
    'INVALID_OPTION',
    `ThreadRelayClient option ${option} ${message}`,
    {
      cause,
    },
  );
}
