/**
 * A minimal socket.io v4 client over a raw WebSocket, for tests that need what
 * socket.io-client cannot do: stop reading the connection while still writing to it.
 *
 * It speaks the text packets itself: engine.io v4 (`0` open, `1` close, `2` ping -> `3`
 * pong, `4` message) carrying socket.io v5 packets on the default namespace (`0` CONNECT,
 * `1` DISCONNECT, `2` EVENT, `3` ACK, `4` CONNECT_ERROR), e.g. `42["thread:event",{...}]`
 * and, for an event with an ack id, `42<id>["thread:join",{...}]` answered by `43<id>[...]`.
 * Binary packets are not supported (the relay sends none).
 *
 * `pauseReading()` uses ws's `pause()`, which pauses the underlying TCP socket and, unlike
 * pausing `ws._socket` directly, also stops ws's receiver from resuming it when it drains.
 * Nothing is read from then on, so the server's writes back up in the kernel buffers and
 * then in the server's own. While paused the client sends a WebSocket ping frame every
 * `probeEveryMs`: once the server has closed its end, such a write is answered with a TCP
 * reset and the next one fails, which destroys the socket, so `closed` settles even though
 * the FIN itself sits unread behind the backlog.
 */
import type { Socket as TcpSocket } from 'node:net';
import WebSocket from 'ws';

export interface RawClientOptions {
  /** Handshake (WebSocket open + socket.io CONNECT) deadline; default 5000 ms. */
  connectTimeoutMs?: number;
  /** Interval of the liveness probes sent while reading is paused; default 200 ms. */
  probeEveryMs?: number;
}

export interface RawClientClose {
  /** `Date.now()` when the TCP socket closed. */
  at: number;
  /** True when the server (or the network) closed it, false when `close()` did. */
  byServer: boolean;
  /** The socket error that ended it, if any (e.g. ECONNRESET or EPIPE on a probe). */
  error: string | null;
}

interface PendingAck {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

interface ParsedSocketIoPacket {
  type: string;
  ackId: number | null;
  data: unknown;
}

function parseSocketIoPacket(text: string): ParsedSocketIoPacket {
  const type = text.charAt(0);
  let index = 1;
  // Another namespace than '/': `/name,` before the id. Skipped: the relay uses '/'.
  if (text.charAt(index) === '/') {
    const comma = text.indexOf(',', index);
    index = comma === -1 ? text.length : comma + 1;
  }
  let digits = '';
  while (index < text.length && /\d/.test(text.charAt(index))) digits += text.charAt(index++);
  const body = text.slice(index);
  return {
    type,
    ackId: digits === '' ? null : Number(digits),
    data: body === '' ? undefined : (JSON.parse(body) as unknown),
  };
}

function rawDataText(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  return Buffer.from(data).toString('utf8');
}

function toWebSocketUrl(baseUrl: string): string {
  const url = new URL('/socket.io/', baseUrl);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.searchParams.set('EIO', '4');
  url.searchParams.set('transport', 'websocket');
  return url.toString();
}

export class RawSocketIoClient {
  /** `thread:event` packets received (and parsed) so far. */
  threadEvents = 0;
  /** Every received event by name, `thread:event` included. */
  readonly eventCounts = new Map<string, number>();
  /** The socket.io session id from the CONNECT answer. */
  sid = '';
  /** Settles once the TCP socket has closed, whoever closed it. */
  readonly closed: Promise<RawClientClose>;

  private tcp: TcpSocket | null = null;
  private closeInfo: RawClientClose | null = null;
  private closing = false;
  private lastError: string | null = null;
  private nextAckId = 0;
  private readonly pending = new Map<number, PendingAck>();
  private readonly eventWaiters = new Set<() => void>();
  private probe: NodeJS.Timeout | null = null;
  private onConnected: ((error: Error | null) => void) | null = null;
  private resolveClosed!: (info: RawClientClose) => void;

  private constructor(
    private readonly ws: WebSocket,
    private readonly token: string,
    private readonly probeEveryMs: number,
  ) {
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    ws.on('upgrade', (response) => {
      // The upgraded HTTP response's socket is the TCP socket ws frames on.
      this.tcp = response.socket;
      this.tcp.once('close', () => this.onTcpClose());
      this.tcp.on('error', (error: NodeJS.ErrnoException) => {
        this.lastError = error.code ?? error.message;
      });
    });
    ws.on('error', (error: NodeJS.ErrnoException) => {
      this.lastError ??= error.code ?? error.message;
      this.onConnected?.(error);
    });
    ws.on('close', () => {
      // Before an upgrade there is no TCP socket to wait for.
      if (!this.tcp) this.onTcpClose();
    });
    ws.on('message', (data, isBinary) => {
      if (!isBinary) this.onEngineIoPacket(rawDataText(data));
    });
  }

  /**
   * Opens `ws://<host>/socket.io/?EIO=4&transport=websocket` on `baseUrl` (http://...),
   * waits for the engine.io open packet, sends CONNECT with `{ token }` and resolves on the
   * server's CONNECT; rejects on CONNECT_ERROR (`44{...}`), close or timeout.
   */
  static async connect(
    baseUrl: string,
    token: string,
    options: RawClientOptions = {},
  ): Promise<RawSocketIoClient> {
    const ws = new WebSocket(toWebSocketUrl(baseUrl), { perMessageDeflate: false });
    const client = new RawSocketIoClient(ws, token, options.probeEveryMs ?? 200);
    const timeoutMs = options.connectTimeoutMs ?? 5000;
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no socket.io CONNECT within ${timeoutMs} ms`)),
          timeoutMs,
        );
        client.onConnected = (error) => {
          clearTimeout(timer);
          client.onConnected = null;
          if (error) reject(error);
          else resolve();
        };
        void client.closed.then(() =>
          client.onConnected?.(new Error('connection closed during the handshake')),
        );
      });
    } catch (error) {
      await client.close();
      throw error;
    }
    return client;
  }

  /** True once the TCP socket has closed. */
  get isClosed(): boolean {
    return this.closeInfo !== null;
  }

  /** Stops reading the TCP socket; writes still go out. */
  pauseReading(): void {
    this.ws.pause();
    this.probe ??= setInterval(() => {
      if (this.ws.readyState === WebSocket.OPEN) this.ws.ping();
    }, this.probeEveryMs);
  }

  /** Reads again: what the server queued meanwhile arrives, in order. */
  resumeReading(): void {
    if (this.probe) clearInterval(this.probe);
    this.probe = null;
    this.ws.resume();
  }

  /** Sends an event without an ack id: `42["event",payload]`. */
  emit(event: string, payload: unknown): void {
    this.sendEngineIo(`42${JSON.stringify([event, payload])}`);
  }

  /**
   * Sends `42<id>["event",payload]` and resolves with the first argument of the server's
   * `43<id>[...]`; rejects after `timeoutMs` or when the connection closes first.
   */
  emitWithAck(event: string, payload: unknown, timeoutMs = 10_000): Promise<unknown> {
    const id = this.nextAckId++;
    return new Promise<unknown>((resolve, reject) => {
      if (this.closeInfo) {
        reject(new Error(`${event}: connection closed`));
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${event}: no ack within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.sendEngineIo(`42${id}${JSON.stringify([event, payload])}`);
    });
  }

  /** Resolves once `threadEvents` reaches `count`; rejects after `timeoutMs` or on close. */
  waitForThreadEvents(count: number, timeoutMs = 10_000): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        if (this.threadEvents >= count) {
          done();
          resolve();
        } else if (this.closeInfo) {
          done();
          reject(new Error(`closed after ${this.threadEvents} of ${count} thread:event packets`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new Error(`${this.threadEvents} of ${count} thread:event packets in ${timeoutMs} ms`),
        );
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.eventWaiters.delete(check);
      };
      this.eventWaiters.add(check);
      check();
    });
  }

  /** Drops the connection (no close handshake: the peer may not be reading) and waits for it. */
  async close(): Promise<void> {
    if (!this.closeInfo) {
      this.closing = true;
      this.ws.terminate();
    }
    await this.closed;
  }

  private sendEngineIo(packet: string): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(packet);
  }

  private onEngineIoPacket(packet: string): void {
    switch (packet.charAt(0)) {
      case '0': // open: {"sid","upgrades","pingInterval","pingTimeout","maxPayload"}
        this.sendEngineIo(`40${JSON.stringify({ token: this.token })}`);
        break;
      case '2': // ping: answered while reading; a paused client misses them like any other packet
        this.sendEngineIo(`3${packet.slice(1)}`);
        break;
      case '4':
        this.onSocketIoPacket(parseSocketIoPacket(packet.slice(1)));
        break;
      default: // 1 close, 3 pong, 6 noop: the TCP close is what counts
        break;
    }
  }

  private onSocketIoPacket(packet: ParsedSocketIoPacket): void {
    switch (packet.type) {
      case '0': {
        const data = packet.data as { sid?: unknown } | undefined;
        this.sid = typeof data?.sid === 'string' ? data.sid : '';
        this.onConnected?.(null);
        break;
      }
      case '4': {
        const data = packet.data as { message?: unknown } | undefined;
        const message = typeof data?.message === 'string' ? data.message : JSON.stringify(data);
        this.onConnected?.(new Error(`connect_error: ${message}`));
        break;
      }
      case '2': {
        if (!Array.isArray(packet.data)) break;
        const name = String(packet.data[0]);
        this.eventCounts.set(name, (this.eventCounts.get(name) ?? 0) + 1);
        if (name === 'thread:event') {
          this.threadEvents += 1;
          for (const waiter of [...this.eventWaiters]) waiter();
        }
        break;
      }
      case '3': {
        const waiting = packet.ackId === null ? undefined : this.pending.get(packet.ackId);
        if (!waiting || packet.ackId === null) break;
        this.pending.delete(packet.ackId);
        clearTimeout(waiting.timer);
        waiting.resolve(Array.isArray(packet.data) ? packet.data[0] : undefined);
        break;
      }
      default: // 1 DISCONNECT: the server closes the transport next
        break;
    }
  }

  private onTcpClose(): void {
    if (this.closeInfo) return;
    this.closeInfo = { at: Date.now(), byServer: !this.closing, error: this.lastError };
    if (this.probe) clearInterval(this.probe);
    this.probe = null;
    for (const [id, waiting] of this.pending) {
      clearTimeout(waiting.timer);
      waiting.reject(new Error(`ack ${id}: connection closed`));
    }
    this.pending.clear();
    for (const waiter of [...this.eventWaiters]) waiter();
    this.resolveClosed(this.closeInfo);
  }
}
