/**
 * A packet-level socket.io client: engine.io v4 + socket.io v5 text packets over `ws`,
 * able to send anything (bad JSON, reserved names, binary placeholders, raw frames).
 */
import WebSocket from 'ws';
import { toJsonText } from './fuzz-input.js';
import { isRecord, type Json } from './json.js';

/** How long an acked event may go unanswered before the fuzz reports it. */
const ACK_TIMEOUT_MS = 10_000;

function wsText(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data).toString('utf8');
}

export interface WireNotice {
  event: unknown;
  error: unknown;
  raw: string;
}

export class WireClient {
  /** Every ack packet received, by id (an id answered twice shows up as two entries). */
  readonly acks = new Map<number, unknown[]>();
  readonly notices: WireNotice[] = [];
  readonly eventCounts = new Map<string, number>();
  /** Parse failures of what the server sent: it should only send well-formed packets. */
  readonly garbage: string[] = [];
  closedByServer = false;
  closed = false;
  onThreadEvent: ((event: Json) => void) | null = null;
  private nextId = 1;
  private readonly waiters = new Map<number, () => void>();
  private readonly closeWaiters = new Set<() => void>();

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      this.onEngineIo(wsText(data));
    });
    ws.on('close', () => {
      if (!this.closed) this.closedByServer = true;
      this.closed = true;
      for (const waiter of [...this.closeWaiters]) waiter();
      for (const waiter of [...this.waiters.values()]) waiter();
    });
    ws.on('error', () => undefined);
  }

  static async connect(baseUrl: string, token: string): Promise<WireClient> {
    const url = new URL('/socket.io/', baseUrl);
    url.protocol = 'ws:';
    url.searchParams.set('EIO', '4');
    url.searchParams.set('transport', 'websocket');
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const client = new WireClient(ws);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no socket.io CONNECT within 5 s')), 5000);
      ws.on('message', (data) => {
        const text = wsText(data);
        if (text.startsWith('0')) ws.send(`40${JSON.stringify({ token })}`);
        else if (text.startsWith('40')) {
          clearTimeout(timer);
          resolve();
        } else if (text.startsWith('44')) {
          clearTimeout(timer);
          reject(new Error(`connect_error ${text}`));
        }
      });
      ws.once('close', () => {
        clearTimeout(timer);
        reject(new Error('closed during the handshake'));
      });
    });
    return client;
  }

  /** A fresh ack id: never reused, so a late duplicate answer is caught. */
  takeId(): number {
    return this.nextId++;
  }

  /** Sends an engine.io message packet (`4` + socket.io packet). */
  send(socketIoPacket: string): void {
    this.sendEngineIo(`4${socketIoPacket}`);
  }

  sendEngineIo(packet: string): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(packet);
  }

  sendBinary(data: Buffer): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(data, { binary: true });
  }

  /** `42<id>[...args]`, the event with an ack id; resolves with the first ack argument. */
  emitWithAck(
    args: unknown[],
  ): Promise<{ answer: unknown } | { closed: true } | { timeout: true }> {
    const id = this.takeId();
    this.send(`2${id}${toJsonText(args)}`);
    return this.waitAck(id);
  }

  waitAck(
    id: number,
    timeoutMs = ACK_TIMEOUT_MS,
  ): Promise<{ answer: unknown } | { closed: true } | { timeout: true }> {
    return new Promise((resolve) => {
      const check = () => {
        const answers = this.acks.get(id);
        if (answers && answers.length > 0) {
          done();
          resolve({ answer: answers[0] });
        } else if (this.closed) {
          done();
          resolve({ closed: true });
        }
      };
      const timer = setTimeout(() => {
        done();
        resolve({ timeout: true });
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(id);
      };
      this.waiters.set(id, check);
      check();
    });
  }

  /** Resolves true once closed, false after `timeoutMs`. */
  waitClosed(timeoutMs: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.closeWaiters.delete(onClose);
        resolve(false);
      }, timeoutMs);
      const onClose = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.closeWaiters.add(onClose);
    });
  }

  close(): void {
    this.closed = true;
    this.ws.terminate();
  }

  private onEngineIo(packet: string): void {
    const type = packet.charAt(0);
    if (type === '2') this.sendEngineIo(`3${packet.slice(1)}`);
    if (type !== '4') return;
    const body = packet.slice(1);
    const kind = body.charAt(0);
    let index = 1;
    let digits = '';
    while (index < body.length && /\d/.test(body.charAt(index))) digits += body.charAt(index++);
    let data: unknown;
    try {
      data = index < body.length ? JSON.parse(body.slice(index)) : undefined;
    } catch {
      this.garbage.push(body.slice(0, 200));
      return;
    }
    if (kind === '3' && digits !== '') {
      const id = Number(digits);
      const list = this.acks.get(id) ?? [];
      list.push(Array.isArray(data) ? data[0] : data);
      this.acks.set(id, list);
      this.waiters.get(id)?.();
    } else if (kind === '2' && Array.isArray(data)) {
      const name = String(data[0]);
      this.eventCounts.set(name, (this.eventCounts.get(name) ?? 0) + 1);
      const first: unknown = data[1];
      if (name === 'relay:error') {
        const notice = isRecord(first) ? first : {};
        this.notices.push({ event: notice.event, error: notice.error, raw: body.slice(0, 300) });
      } else if (name === 'thread:event' && isRecord(first)) {
        this.onThreadEvent?.(first);
      }
    }
  }
}
