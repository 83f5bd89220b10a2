import type { Socket } from 'socket.io';

/** What engine.io hands to a transport; `data` is the encoded packet. */
interface EnginePacket {
  data?: unknown;
}

/** The `ws` socket under a websocket transport: what it holds unsent. */
interface WsLike {
  bufferedAmount?: number;
  terminate?: () => void;
}

function packetBytes(packet: EnginePacket): number {
  const { data } = packet;
  if (typeof data === 'string') return data.length;
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return data.byteLength;
  return 0;
}

/**
 * How much a connection has been asked to send that the client has not taken yet: packets
 * engine.io holds while the transport is busy, plus what the websocket holds in memory. A
 * client that stops reading makes both grow; the server's memory follows them, so replays
 * wait on this and live sends cut the connection when it passes a bound.
 *
 * engine.io announces every packet it queues (`packetCreate`) and every batch it hands to
 * the transport (`flush`), which keeps a running count without walking the queue.
 */
export class OutboundBuffer {
  private queued = 0;
  /** Bytes handed to long-polling responses that have not been written out yet. */
  private polled = 0;
  private overflowed = false;
  private readonly waiters = new Set<() => void>();

  constructor(
    private readonly socket: Socket,
    private readonly maxBytes: number,
    private readonly onOverflow: (bytes: number) => void,
  ) {
    const conn = socket.conn as unknown as NodeJS.EventEmitter;
    conn.on('packetCreate', (packet: EnginePacket) => {
      this.queued += packetBytes(packet);
      if (this.bytes() > this.maxBytes) this.overflow();
    });
    conn.on('flush', (batch: EnginePacket[]) => {
      let bytes = 0;
      for (const packet of batch) bytes += packetBytes(packet);
      this.queued = Math.max(0, this.queued - bytes);
      this.followPollResponse(bytes);
      this.wake();
    });
    // The websocket's own buffer drains without a packet event: the transport says so.
    conn.on('drain', () => this.wake());
  }

  /** Bytes waiting to reach the client now. */
  bytes(): number {
    return this.queued + this.polled + (this.ws()?.bufferedAmount ?? 0);
  }

  /**
   * Resolves true once fewer than `lowWater` bytes are waiting, or false after
   * `timeoutMs` (the client stayed behind) or when the connection closes.
   */
  async drained(lowWater: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.bytes() >= lowWater) {
      if (this.socket.disconnected) return false;
      const left = deadline - Date.now();
      if (left <= 0) return false;
      // The websocket's drain is not always announced: look again at least every 50 ms.
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, Math.min(left, 50));
        this.waiters.add(wake);
      });
    }
    return !this.socket.disconnected;
  }

  /**
   * Closes the connection now, dropping what it holds: a polite close would wait for the
   * buffer to drain, which a client that does not read never lets happen.
   */
  cut(): void {
    const ws = this.ws();
    this.socket.conn.close(true);
    ws?.terminate?.();
    this.wake();
  }

  /**
   * A long-polling batch goes out as the answer to the client's pending GET: engine.io
   * counts it as sent at once, but a client that does not read leaves it in the response's
   * buffers. It counts here until the response has been written out ('finish') or dropped.
   */
  private followPollResponse(bytes: number): void {
    const transport = this.socket.conn.transport as unknown as { res?: NodeJS.EventEmitter | null };
    const res = transport.res;
    if (bytes === 0 || !res || this.ws()) return;
    this.polled += bytes;
    let done = false;
    const settle = () => {
      if (done) return;
      done = true;
      this.polled -= bytes;
      this.wake();
    };
    res.once('finish', settle);
    res.once('close', settle);
    if (this.bytes() > this.maxBytes) this.overflow();
  }

  /** Said once: the connection is cut then, and later packets change nothing. */
  private overflow(): void {
    const bytes = this.bytes();
    if (bytes <= this.maxBytes || this.overflowed) return;
    this.overflowed = true;
    this.onOverflow(bytes);
  }

  private wake(): void {
    for (const wake of [...this.waiters]) wake();
  }

  private ws(): WsLike | undefined {
    const transport = this.socket.conn.transport as unknown as { socket?: WsLike };
    return transport.socket;
  }
}
