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
}

export interface HistoryRecord {
  threadId: string;
  after: number;
  limit: number;
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
  readonly joins: JoinRecord[] = [];
  readonly acks: { threadId: string; seq: number; epoch?: string; answerAsked: boolean }[] = [];
  readonly history: HistoryRecord[] = [];
  readonly messages: MessageRecord[] = [];
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
      const accepted = isValidToken(token);
      server.handshakes.push({ token, accepted });
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
    socket.on('disconnect', () => this.changed.notify());
    socket.on(ClientEvents.join, (payload: Record<string, unknown>, ack: AckFn) => {
      this.join(socket, payload, ack);
      this.changed.notify();
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
          const error = {
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

  /** The relay's join: answer, then `thread:reset` if the cursor cannot be served, then the replay. */
  private join(socket: Socket, payload: Record<string, unknown>, ack: AckFn): void {
    const threadId = String(payload.threadId);
    const lastSeq = typeof payload.lastSeq === 'number' ? payload.lastSeq : undefined;
    const epoch = typeof payload.epoch === 'string' ? payload.epoch : undefined;
    this.joins.push({ threadId, lastSeq, epoch, socketId: socket.id });
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
      const log = this.ensure(threadId);
      const messages = log.events.filter((event) => event.seq > after).slice(0, limit);
      send(res, 200, { threadId, epoch: log.epoch, headSeq: log.headSeq, messages });
      this.changed.notify();
      return;
    }
    if (req.method === 'POST') {
      const body = JSON.parse(await readBody(req)) as { text: string; clientMessageId: string };
      this.messages.push({ threadId, ...body, via: 'rest' });
      this.changed.notify();
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

function room(threadId: string): string {
  return `thread:${threadId}`;
}

function send(res: ServerResponse, status: number, body: object): void {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
