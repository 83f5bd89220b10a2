import { AgUiRenderer } from '../formats/ag-ui-renderer.js';
import { AiSdkRenderer } from '../formats/ai-sdk-renderer.js';
import type { StreamResetNotice } from '../formats/reset-notice.js';
import { BadRequestError } from '../errors/bad-request.error.js';
import type { ThreadEvent } from '../protocol.js';

export const SSE_FORMATS = ['events', 'ag-ui', 'ai-sdk'] as const;
export type SseFormat = (typeof SSE_FORMATS)[number];

export function parseSseFormat(raw: unknown): SseFormat {
  if (raw === undefined || raw === '') return 'events';
  if (typeof raw === 'string' && (SSE_FORMATS as readonly string[]).includes(raw)) {
    return raw as SseFormat;
  }
  throw new BadRequestError(`format must be one of ${SSE_FORMATS.join(', ')}`);
}

/** Turns thread events into SSE frames; the rendered formats keep protocol state. */
export interface SseEncoder {
  /** Whether what came before the resume point shapes what is sent after it (a prelude). */
  readonly stateful: boolean;
  /** Frames for one thread event; the last carries the event's id. */
  frames(event: ThreadEvent, id: string): string;
  /** Frames a client starting after the events seen so far needs first (rendered formats). */
  prelude(): string;
  /**
   * The stream starts again (a cursor it cannot serve, a gap, a new log): what the client
   * has open is closed, then the notice, in the format's own terms. No frame carries an
   * id: the client's cursor moves with the next event. Before `restart()` on a new log.
   */
  reset(notice: StreamResetNotice): string;
  /** The format's own state is dropped: the stream starts again on a new log. */
  restart(): void;
}

function frame(data: unknown, id?: string, event?: string): string {
  return `${id === undefined ? '' : `id: ${id}\n`}${event ? `event: ${event}\n` : ''}data: ${JSON.stringify(data)}\n\n`;
}

/** The thread events as they are: `event: thread.event`. */
class EventsEncoder implements SseEncoder {
  readonly stateful = false;

  frames(event: ThreadEvent, id: string): string {
    return frame(event, id, 'thread.event');
  }

  prelude(): string {
    return '';
  }

  reset(notice: StreamResetNotice): string {
    return frame(notice, undefined, 'thread.reset');
  }

  restart(): void {}
}

interface Renderer {
  render(event: ThreadEvent): object[];
  prelude(): object[];
  reset(notice: StreamResetNotice): object[];
}

/** AG-UI or AI SDK chunks, each a `data:` frame, as those clients read them. */
class RenderedEncoder implements SseEncoder {
  readonly stateful = true;
  private renderer: Renderer;

  constructor(private readonly create: () => Renderer) {
    this.renderer = create();
  }

  frames(event: ThreadEvent, id: string): string {
    const chunks = this.renderer.render(event);
    // An event with nothing to show still moves the client's Last-Event-ID: a comment.
    if (chunks.length === 0) return `id: ${id}\n: ${event.type}\n\n`;
    return chunks
      .map((chunk, i) => frame(chunk, i === chunks.length - 1 ? id : undefined))
      .join('');
  }

  prelude(): string {
    return this.renderer
      .prelude()
      .map((chunk) => frame(chunk))
      .join('');
  }

  /** The renderer's own reset: AG-UI `CUSTOM` `thread.reset`, AI SDK `data-thread-reset`. */
  reset(notice: StreamResetNotice): string {
    return this.renderer
      .reset(notice)
      .map((chunk) => frame(chunk))
      .join('');
  }

  restart(): void {
    this.renderer = this.create();
  }
}

export function sseEncoder(format: SseFormat, threadId: string): SseEncoder {
  if (format === 'ag-ui') return new RenderedEncoder(() => new AgUiRenderer(threadId));
  if (format === 'ai-sdk') return new RenderedEncoder(() => new AiSdkRenderer(threadId));
  return new EventsEncoder();
}
