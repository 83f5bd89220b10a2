import { randomUUID } from 'node:crypto';
import {
  createServer,
  type IncomingMessage,
  type Server as HttpServer,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type ServerOptions, type Socket } from 'socket.io';
import {
  ClientEvents,
  ServerEvents,
  USER_MESSAGE_TYPE,
  type Ack,
  type JsonValue,
  type ResetReason,
  type ThreadEvent,
  type ErrorBody,
} from '../../../src/protocol.js';
import { Signal } from './signal.js';

interface ThreadLog {
  epoch: string;
  events: ThreadEvent[];
  headSeq: number;
}

export interface JoinRecord {
  threadId: string;
  lastSeq: number | undefined;
  epoch: string | undefined;
  socketId: string;
  /** When it arrived (ms). */
  at: number;
  /** The code it was refused with, if it was. */
  refused?: string;
}

export interface HistoryRecord {
  threadId: string;
  after: number;
  limit: number;
}

export interface RefreshRecord {
  token: string;
  socketId: string;
  at: number;
  /** When the connection's credential expired before this refresh. */
  expiresAtBefore: number | null;
}

export interface MessageRecord {
  threadId: string;
  text: string;
  clientMessageId: string;
  via: 'socket' | 'rest';
}

export interface FakeServerOptions {
  /** Engine.io transports the server accepts (default both). */
  transports?: ServerOptions['transports'];
}

type AckFn = (answer: Ack<Record<string, unknown>>) => void;

const THREAD_PATH = /^\/threads\/([^/]+)\/messages$/;

/**
 * Just enough of the relay protocol for the client SDK: a real socket.io server and the
 * two REST routes, over an in-memory log. Tokens starting with `tok-` are valid. Every
 * change of observable state fires `changed`.
 */
export class FakeRelayServer {
  readonly changed = new Signal();
  readonly handshakes: { token: unknown; accepted: boolean }[] = [];
  /** When each handshake arrived (ms), in the order of `handshakes`. */
  readonly handshakeTimes: number[] = [];
  readonly joins: JoinRecord[] = [];
  readonly acks: { threadId: string; seq: number; epoch?: string; answerAsked: boolean }[] = [];
  readonly history: HistoryRecord[] = [];
  readonly messages: MessageRecord[] = [];
  readonly refreshes: RefreshRecord[] = [];
  /** When each history read arrived (ms), in the order of `history`. */
  readonly historyTimes: number[] = [];
  /** When each message arrived (ms), in the order of `messages`. */
  readonly messageTimes: number[] = [];
  /** Every connection cut for a lapsed credential. */
  readonly expirations: { socketId: string; at: number; expiresAt: number }[] = [];
  /** Joins are answered this long after they arrive (default at once). */
  joinDelayMs = 0;
  /** Joins received and not answered yet, now and at most so far. */
  pendingJoins = 0;
  maxPendingJoins = 0;
  /** The next this-many joins are refused `RATE_LIMITED` with `retryAfterMs`. */
  rateLimitedJoins = 0;
  /** The next this-many `user:message`s are refused `RATE_LIMITED` with `retryAfterMs`. */
  rateLimitedMessages = 0;
  /** The next this-many history reads answer 429 `RATE_LIMITED` (`Retry-After` in whole seconds). */
  rateLimitedReads = 0;
  /** The next this-many POSTs answer 429 with `rateLimitedPostBody` (undefined: no body). */
  rateLimitedPosts = 0;
  rateLimitedPostBody: object | undefined;
  retryAfterMs = 300;
  /** `auth:refresh` is refused `UNAUTHORIZED` while set, whatever the token. */
  refuseRefresh = false;
  /**
   * How a lapsed credential is enforced: `timer` cuts the connection at expiry, as the
   * relay does; `on-event` leaves it open and answers the next event `TOKEN_EXPIRED`
   * before cutting (the relay does that for an event that beats its timer).
   */
  expiryCut: 'timer' | 'on-event' = 'timer';
  /** The next this-many `user:message` requests are stored but never answered. */
  unansweredMessages = 0;
  /** The next this-many POSTs answer 503. */
  failingPosts = 0;
  /** The next join answers but sends none of the events it reports as replayed. */
  skipNextReplay = false;
  /** Acks are refused as the relay refuses them: answered, or as `relay:error` without a callback. */
  refuseAcks = false;
  private readonly logs = new Map<string, ThreadLog>();
  private readonly byClientId = new Map<string, ThreadEvent>();
  private readonly sessions = new Map<string, { expiresAt: number | null; cancel: () => void }>();
  private blocked = false;

  private constructor(
    private readonly http: HttpServer,
    readonly io: Server,
    readonly port: number,
  ) {}

  static async start(options: FakeServerOptions = {}): Promise<FakeRelayServer> {
    const http = createServer();
    const holder: { server?: FakeRelayServer } = {};
    const io = new Server(http, {
      transports: options.transports ?? ['polling', 'websocket'],
      // Refusing at the engine.io level looks to the client like a blocked network.
      allowRequest: (_req, callback) => callback(null, !holder.server?.blocked),
    });
    http.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (req.url?.startsWith('/socket.io')) return;
      void holder.server?.handleHttp(req, res);
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const server = new FakeRelayServer(http, io, (http.address() as AddressInfo).port);
    holder.server = server;
    io.use((socket, next) => {
      const token: unknown = (socket.handshake.auth as Record<string, unknown>).token;
      const accepted = isValidToken(token) && !isExpired(token);
      server.handshakes.push({ token, accepted });
      server.handshakeTimes.push(Date.now());
      server.changed.notify();
      next(accepted ? undefined : new Error('unauthorized'));
    });
    io.on('connection', (socket) => server.onConnection(socket));
    return server;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get connectedSockets(): number {
    return this.io.of('/').sockets.size;
  }

  /** Stores an event without sending it anywhere. */
  append(threadId: string, type = 'agent_thinking', payload: JsonValue = {}): ThreadEvent {
    const log = this.ensure(threadId);
    log.headSeq += 1;
    const event: ThreadEvent = {
      id: randomUUID(),
      threadId,
      seq: log.headSeq,
      epoch: log.epoch,
      type,
      payload,
      ts: Date.now(),
    };
    log.events.push(event);
    return event;
  }

  /** Stores an event and sends it to the thread's room, as the relay does. */
  publish(threadId: string, type = 'agent_thinking', payload: JsonValue = {}): ThreadEvent {
    const event = this.append(threadId, type, payload);
    this.emitRaw(event);
    return event;
  }

  /** Sends an event to the thread's room without touching the log (duplicates, reordering). */
  emitRaw(event: ThreadEvent): void {
    this.io.to(room(event.threadId)).emit(ServerEvents.event, event);
  }

  /** Replaces the thread's log with an empty one of a new epoch; returns the epoch. */
  replaceLog(threadId: string): string {
    const epoch = randomUUID();
    this.logs.set(threadId, { epoch, events: [], headSeq: 0 });
    return epoch;
  }

  /** Drops every stored event with seq <= `throughSeq`. */
  trim(threadId: string, throughSeq: number): void {
    const log = this.ensure(threadId);
    log.events = log.events.filter((event) => event.seq > throughSeq);
  }

  epochOf(threadId: string): string {
    return this.ensure(threadId).epoch;
  }

  storedEvents(threadId: string): ThreadEvent[] {
    return [...this.ensure(threadId).events];
  }

  setMode(mode: 'realtime' | 'degraded'): void {
    this.io.emit(ServerEvents.status, { mode });
  }

  /** `socket.disconnect(true)` on every socket: socket.io clients do not retry that alone. */
  disconnectAll(): void {
    this.io.disconnectSockets(true);
  }

  /** Closes the underlying connections, as a network failure would. */
  dropTransports(): void {
    for (const socket of this.io.of('/').sockets.values()) socket.conn.close();
  }

  block(): void {
    this.blocked = true;
  }

  unblock(): void {
    this.blocked = false;
  }

  async close(): Promise<void> {
    this.io.disconnectSockets(true);
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => {
      void this.io.close(() => resolve());
    });
  }

  private ensure(threadId: string): ThreadLog {
    let log = this.logs.get(threadId);
    if (!log) {
      log = { epoch: randomUUID(), events: [], headSeq: 0 };
      this.logs.set(threadId, log);
    }
    return log;
  }

  private onConnection(socket: Socket): void {
    this.changed.notify();
    socket.on('disconnect', () => {
      this.sessions.get(socket.id)?.cancel();
      this.sessions.delete(socket.id);
      this.changed.notify();
    });
    const token = (socket.handshake.auth as Record<string, unknown>).token;
    const expiresAt = typeof token === 'string' ? expiryOf(token) : null;
    this.startSession(socket, expiresAt);
    if (expiresAt !== null) socket.emit(ServerEvents.session, { expiresAt });
    // The relay answers any event on a lapsed connection TOKEN_EXPIRED, then cuts it.
    socket.use((packet: unknown[], next) => {
      const session = this.sessions.get(socket.id);
      if (session?.expiresAt == null || session.expiresAt > Date.now()) return next();
      const [event, ...args] = packet;
      const ack = args.at(-1);
      if (typeof ack === 'function') {
        (ack as AckFn)({ ok: false, error: { code: 'TOKEN_EXPIRED', message: 'expired' } });
      }
      this.expire(socket, String(event));
    });
    socket.on(ClientEvents.authRefresh, (payload: { token?: unknown }, ack: AckFn) => {
      this.refresh(socket, payload, ack);
      this.changed.notify();
    });
    socket.on(ClientEvents.join, (payload: Record<string, unknown>, ack: AckFn) => {
      const record: JoinRecord = { ...joinRecord(payload), socketId: socket.id, at: Date.now() };
      this.joins.push(record);
      if (this.rateLimitedJoins > 0) {
        this.rateLimitedJoins -= 1;
        record.refused = 'RATE_LIMITED';
        ack({ ok: false, error: this.rateLimitedBody('joins') });
        this.changed.notify();
        return;
      }
      this.pendingJoins += 1;
      this.maxPendingJoins = Math.max(this.maxPendingJoins, this.pendingJoins);
      const answer = () => {
        this.pendingJoins -= 1;
        if (socket.disconnected) return;
        this.join(socket, payload, ack);
        this.changed.notify();
      };
      if (this.joinDelayMs > 0) setTimeout(answer, this.joinDelayMs);
      else answer();
    });
    socket.on(ClientEvents.leave, (payload: { threadId: string }, ack: AckFn) => {
      void socket.leave(room(payload.threadId));
      ack({ ok: true });
    });
    // The SDK sends acks without a callback; a caller that passes one gets the answer.
    socket.on(
      ClientEvents.ack,
      (payload: { threadId: string; seq: number; epoch?: string }, ack?: AckFn) => {
        this.acks.push({
          threadId: payload.threadId,
          seq: payload.seq,
          epoch: payload.epoch,
          answerAsked: typeof ack === 'function',
        });
        if (this.refuseAcks) {
          const error: ErrorBody = {
            code: 'BAD_REQUEST',
            message: 'this connection has not joined the thread',
          };
          if (ack) ack({ ok: false, error });
          else socket.emit('relay:error', { event: ClientEvents.ack, error });
        } else {
          ack?.({ ok: true });
        }
        this.changed.notify();
      },
    );
    socket.on(
      ClientEvents.userMessage,
      (payload: { threadId: string; text: string; clientMessageId: string }, ack: AckFn) => {
        this.messages.push({ ...payload, via: 'socket' });
        this.messageTimes.push(Date.now());
        if (this.rateLimitedMessages > 0) {
          this.rateLimitedMessages -= 1;
          ack({ ok: false, error: this.rateLimitedBody('messages') });
          this.changed.notify();
          return;
        }
        const event = this.storeMessage(payload.threadId, payload.text, payload.clientMessageId);
        this.changed.notify();
        if (this.unansweredMessages > 0) {
          this.unansweredMessages -= 1;
          return;
        }
        ack({ ok: true, seq: event.seq, epoch: event.epoch, messageId: event.id });
      },
    );
  }

  private rateLimitedBody(what: string): ErrorBody {
    return {
      code: 'RATE_LIMITED',
      message: `too many ${what}; retry in ${this.retryAfterMs} ms`,
      retryAfterMs: this.retryAfterMs,
    };
  }

  /** A credential expiring at `expiresAt` (null: never): announced, and enforced. */
  private startSession(socket: Socket, expiresAt: number | null): void {
    this.sessions.get(socket.id)?.cancel();
    let timer: ReturnType<typeof setTimeout> | undefined;
    if (expiresAt !== null && this.expiryCut === 'timer') {
      timer = setTimeout(() => this.expire(socket, null), Math.max(0, expiresAt - Date.now()));
    }
    this.sessions.set(socket.id, { expiresAt, cancel: () => clearTimeout(timer) });
  }

  private refresh(socket: Socket, payload: { token?: unknown }, ack: AckFn): void {
    const token = typeof payload.token === 'string' ? payload.token : '';
    const expiresAtBefore = this.sessions.get(socket.id)?.expiresAt ?? null;
    this.refreshes.push({ token, socketId: socket.id, at: Date.now(), expiresAtBefore });
    if (this.refuseRefresh || !isValidToken(token) || isExpired(token)) {
      ack({ ok: false, error: { code: 'UNAUTHORIZED', message: 'auth:refresh: token rejected' } });
      return;
    }
    const expiresAt = expiryOf(token);
    this.startSession(socket, expiresAt);
    ack({ ok: true, expiresAt });
  }

  private expire(socket: Socket, event: string | null): void {
    if (socket.disconnected) return;
    const expiresAt = this.sessions.get(socket.id)?.expiresAt ?? 0;
    this.expirations.push({ socketId: socket.id, at: Date.now(), expiresAt });
    socket.emit(ServerEvents.error, {
      event,
      error: { code: 'TOKEN_EXPIRED', message: "the connection's token has expired" },
    });
    socket.disconnect(true);
    this.changed.notify();
  }

  /** The relay's join: answer, then `thread:reset` if the cursor cannot be served, then the replay. */
  private join(socket: Socket, payload: Record<string, unknown>, ack: AckFn): void {
    const { threadId, lastSeq, epoch } = joinRecord(payload);
    if (threadId.startsWith('forbidden')) {
      ack({ ok: false, error: { code: 'FORBIDDEN', message: `not your thread ${threadId}` } });
      return;
    }
    const log = this.ensure(threadId);
    const firstSeq = log.events[0]?.seq ?? log.headSeq + 1;
    let reset: ResetReason | null = null;
    let cursor = firstSeq - 1;
    if (lastSeq !== undefined || epoch !== undefined) {
      const after = lastSeq ?? 0;
      if (epoch !== undefined && epoch !== log.epoch) reset = 'epoch_mismatch';
      else if (after > log.headSeq) reset = 'ahead_of_log';
      else if (after < firstSeq - 1) reset = 'trimmed';
      cursor = reset ? log.headSeq : after;
    }
    ack({
      ok: true,
      threadId,
      epoch: log.epoch,
      headSeq: log.headSeq,
      replayed: log.headSeq - cursor,
    });
    if (reset) {
      socket.emit(ServerEvents.reset, {
        threadId,
        epoch: log.epoch,
        headSeq: log.headSeq,
        reason: reset,
      });
    }
    const replay = !this.skipNextReplay;
    this.skipNextReplay = false;
    if (replay) {
      for (const event of log.events)
        if (event.seq > cursor) socket.emit(ServerEvents.event, event);
    }
    void socket.join(room(threadId));
  }

  private storeMessage(threadId: string, text: string, clientMessageId: string): ThreadEvent {
    const key = `${threadId}/${clientMessageId}`;
    const known = this.byClientId.get(key);
    if (known) return known;
    const event = this.publish(threadId, USER_MESSAGE_TYPE, { text, clientMessageId });
    this.byClientId.set(key, event);
    return event;
  }

  private async handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const match = THREAD_PATH.exec(url.pathname);
    const auth = req.headers.authorization ?? '';
    if (!match?.[1]) return send(res, 404, { statusCode: 404, message: 'Not Found' });
    if (!isValidToken(auth.replace(/^Bearer /, ''))) {
      return send(res, 401, { statusCode: 401, message: 'Unauthorized' });
    }
    const threadId = decodeURIComponent(match[1]);
    if (req.method === 'GET') {
      const after = Number(url.searchParams.get('after') ?? 0);
      const limit = Number(url.searchParams.get('limit') ?? 100);
      this.history.push({ threadId, after, limit });
      this.historyTimes.push(Date.now());
      this.changed.notify();
      if (this.rateLimitedReads > 0) {
        this.rateLimitedReads -= 1;
        const seconds = String(Math.ceil(this.retryAfterMs / 1000));
        return send(res, 429, { ok: false, error: this.rateLimitedBody('reads') }, seconds);
      }
      const log = this.logs.get(threadId);
      // As the relay: a read never registers a thread; a join or a message does.
      if (!log) {
        const error = { code: 'THREAD_NOT_FOUND', message: `No thread found for id ${threadId}` };
        return send(res, 404, { ok: false, error });
      }
      const messages = log.events.filter((event) => event.seq > after).slice(0, limit);
      send(res, 200, { threadId, epoch: log.epoch, headSeq: log.headSeq, messages });
      this.changed.notify();
      return;
    }
    if (req.method === 'POST') {
      const body = JSON.parse(await readBody(req)) as { text: string; clientMessageId: string };
      this.messages.push({ threadId, ...body, via: 'rest' });
      this.messageTimes.push(Date.now());
      this.changed.notify();
      if (this.rateLimitedPosts > 0) {
        this.rateLimitedPosts -= 1;
        const seconds = String(Math.ceil(this.retryAfterMs / 1000));
        return send(res, 429, this.rateLimitedPostBody ?? null, seconds);
      }
      if (this.failingPosts > 0) {
        this.failingPosts -= 1;
        const error = { code: 'RELAY_UNAVAILABLE', message: 'store down' };
        return send(res, 503, { ok: false, error });
      }
      const event = this.storeMessage(threadId, body.text, body.clientMessageId);
      send(res, 200, { ok: true, seq: event.seq, epoch: event.epoch, messageId: event.id });
      return;
    }
    send(res, 405, { statusCode: 405, message: 'Method Not Allowed' });
  }
}

function isValidToken(token: unknown): boolean {
  return typeof token === 'string' && token.startsWith('tok-');
}

/** `tok-exp-<epoch ms>` expires then; other tokens never do. */
export function expiringToken(expiresAt: number): string {
  return `tok-exp-${expiresAt}`;
}

function expiryOf(token: string): number | null {
  const match = /^tok-exp-(\d+)$/.exec(token);
  return match?.[1] === undefined ? null : Number(match[1]);
}

function isExpired(token: unknown): boolean {
  if (typeof token !== 'string') return false;
  const expiresAt = expiryOf(token);
  return expiresAt !== null && expiresAt <= Date.now();
}

function joinRecord(
  payload: Record<string, unknown>,
): Pick<JoinRecord, 'threadId' | 'lastSeq' | 'epoch'> {
  return {
    threadId: String(payload.threadId),
    lastSeq: typeof payload.lastSeq === 'number' ? payload.lastSeq : undefined,
    epoch: typeof payload.epoch === 'string' ? payload.epoch : undefined,
  };
}

function room(threadId: string): string {
  return `thread:${threadId}`;
}

function send(res: ServerResponse, status: number, body: object | null, retryAfter?: string): void {
  res.writeHead(status, {
    'Content-Type': 'application/json',
    ...(retryAfter === undefined ? {} : { 'Retry-After': retryAfter }),
  });
  res.end(body === null ? '' : JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
