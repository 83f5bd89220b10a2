/** One dispatched Server-Sent Events message. */
export interface SseFrame {
  /** The `event:` field; 'message' when the frame has none. */
  event: string;
  data: string;
  /** The `id:` field, when the frame carries one. */
  id: string | undefined;
}

/**
 * The event-stream parser of the HTML standard (section 9.2.6), fed text chunks as they
 * arrive: lines end with CR, LF or CRLF (also split across chunks), `:` lines are
 * comments (heartbeats), `data:` lines join with LF, a blank line dispatches. `retry:` is
 * ignored: the client keeps its own backoff. A line or frame past `maxChars` throws, so a
 * broken or hostile server cannot make the client buffer without bound.
 */
export class SseFrameParser {
  /** The unfinished line, in pieces: joined only once its end arrives, so pushes stay linear. */
  private parts: string[] = [];
  private partChars = 0;
  /** The previous chunk ended with CR: an LF opening the next one belongs to it. */
  private pendingCr = false;
  private event = '';
  private data: string[] = [];
  private dataChars = 0;
  private id: string | undefined;

  constructor(private readonly maxChars: number) {}

  push(chunk: string): SseFrame[] {
    // An empty chunk must not forget a CR that ended the previous one.
    if (chunk === '') return [];
    let text = chunk;
    if (this.pendingCr && text.startsWith('\n')) text = text.slice(1);
    this.pendingCr = false;
    const frames: SseFrame[] = [];
    if (lineEnd(text, 0) === -1) {
      this.parts.push(text);
      this.partChars += text.length;
    } else {
      const buffer = this.parts.join('') + text;
      let start = 0;
      for (;;) {
        const end = lineEnd(buffer, start);
        if (end === -1) break;
        const line = buffer.slice(start, end);
        let next = end + 1;
        if (buffer[end] === '\r') {
          if (end + 1 === buffer.length) this.pendingCr = true;
          else if (buffer[end + 1] === '\n') next = end + 2;
        }
        start = next;
        const frame = this.line(line);
        if (frame) frames.push(frame);
      }
      const rest = buffer.slice(start);
      this.parts = rest === '' ? [] : [rest];
      this.partChars = rest.length;
    }
    if (this.partChars + this.dataChars > this.maxChars) {
      throw new RangeError(`an event-stream frame is over ${this.maxChars} characters`);
    }
    return frames;
  }

  private line(line: string): SseFrame | undefined {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') {
      this.data.push(value);
      this.dataChars += value.length + 1;
    } else if (field === 'event') {
      this.event = value;
    } else if (field === 'id' && !value.includes('\0')) {
      this.id = value;
    }
    return undefined;
  }

  private dispatch(): SseFrame | undefined {
    const { data, event, id } = this;
    this.data = [];
    this.dataChars = 0;
    this.event = '';
    this.id = undefined;
    // A frame with no data line is not dispatched (the standard's rule).
    if (data.length === 0) return undefined;
    return { event: event === '' ? 'message' : event, data: data.join('\n'), id };
  }
}

function lineEnd(text: string, from: number): number {
  for (let i = from; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (c === 10 || c === 13) return i;
  }
  return -1;
}
