import { decodeEventBody, toThreadEvent } from '../events/thread-event.codec.js';
import type { ThreadEvent } from '../protocol.js';

/**
 * A live event as the bus carries it: its seq and epoch are read at once (that is all
 * ordering needs), its stored body is parsed only if something asks for the object, and
 * clients get its JSON built from the body as it came, without a parse and re-serialise.
 */
export class LiveEvent {
  private parsed: ThreadEvent | undefined;
  private wire: string | undefined;

  private constructor(
    readonly threadId: string,
    readonly seq: number,
    readonly epoch: string,
    private readonly body: string | undefined,
    parsed?: ThreadEvent,
  ) {
    this.parsed = parsed;
  }

  static of(event: ThreadEvent): LiveEvent {
    return new LiveEvent(event.threadId, event.seq, event.epoch, undefined, event);
  }

  static stored(threadId: string, seq: number, epoch: string, body: string): LiveEvent {
    // Written by the append script from `encodeEventBody`: an object that starts with its id.
    if (!body.startsWith('{"id":') || !body.endsWith('}')) {
      throw new Error(`event ${seq} of ${threadId} is not a stored event body`);
    }
    return new LiveEvent(threadId, seq, epoch, body);
  }

  get event(): ThreadEvent {
    this.parsed ??= toThreadEvent(
      this.threadId,
      this.seq,
      this.epoch,
      decodeEventBody(this.body, `event ${this.seq} of ${this.threadId}`),
    );
    return this.parsed;
  }

  /** The `thread:event` payload's JSON. */
  get json(): string {
    this.wire ??=
      this.body === undefined
        ? JSON.stringify(this.parsed)
        : `{"threadId":${JSON.stringify(this.threadId)},"seq":${this.seq},"epoch":${JSON.stringify(this.epoch)},${this.body.slice(1)}`;
    return this.wire;
  }

  /** When it was sent: the body's last `"ts":` (ids and types cannot hold one). */
  get ts(): number {
    if (this.parsed || this.body === undefined) return this.event.ts;
    const at = this.body.lastIndexOf('"ts":');
    const ts = at < 0 ? NaN : Number.parseInt(this.body.slice(at + 5), 10);
    return Number.isFinite(ts) ? ts : this.event.ts;
  }
}
