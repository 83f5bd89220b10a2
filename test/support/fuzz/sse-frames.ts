/**
 * The first frames of a `text/event-stream` answer, as README "Server-Sent Events"
 * documents them: comments, `id:`, `event:` and `data:` lines; `thread.event`,
 * `thread.reset` and `relay.closed` events in the plain format, bare `data:` frames
 * (AG-UI events, UI message chunks) in the rendered ones.
 */
import { threadEventProblems } from './answer-shapes.js';
import { describeValue } from './fuzz-input.js';
import type { HttpCase } from './http-cases.js';
import { isRecord } from './json.js';

/** An event id: `<epoch>:<seq>`. */
const EVENT_ID = /^[0-9a-f]{0,64}:\d+$/;

/** Frames read before a stream is aborted: the opening comment and the one after it. */
export const SSE_FRAMES_READ = 2;

/** The complete (blank-line terminated) frames of what was read; a cut-off tail is left out. */
export function completeFrames(text: string): string[] {
  const blocks = text.split('\n\n');
  blocks.pop();
  return blocks;
}

interface Frame {
  id?: string;
  event?: string;
  data?: string;
  comment?: string;
}

function parseFrame(block: string): { frame: Frame; problems: string[] } {
  const frame: Frame = {};
  const problems: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) frame.comment = line.slice(1).trim();
    else if (line.startsWith('id: ')) frame.id = line.slice(4);
    else if (line.startsWith('event: ')) frame.event = line.slice(7);
    else if (line.startsWith('data: ')) {
      if (frame.data !== undefined) problems.push('a frame with two data lines');
      frame.data = line.slice(6);
    } else problems.push(`an undocumented line ${describeValue(line, 60)}`);
  }
  return { frame, problems };
}

function dataProblems(c: HttpCase, frame: Frame, data: unknown): string[] {
  const problems: string[] = [];
  const plain = (c.sse?.format ?? 'events') === 'events';
  switch (frame.event) {
    case 'relay.closed':
      if (!isRecord(data) || typeof data.reason !== 'string') {
        problems.push('relay.closed without a reason');
      }
      return problems;
    case 'thread.reset':
      if (!plain) problems.push('thread.reset in a rendered format');
      if (!isRecord(data) || typeof data.reason !== 'string' || typeof data.epoch !== 'string') {
        problems.push('thread.reset without a reason and an epoch');
      }
      if (frame.id !== undefined) problems.push('thread.reset with an id');
      return problems;
    case 'thread.event': {
      if (!plain) problems.push('thread.event in a rendered format');
      problems.push(...threadEventProblems(data).map((p) => `thread.event ${p}`));
      if (!isRecord(data)) return problems;
      if (data.threadId !== c.threadId) problems.push('thread.event of another thread');
      if (frame.id !== `${String(data.epoch)}:${String(data.seq)}`) {
        problems.push('thread.event whose id is not <epoch>:<seq>');
      }
      return problems;
    }
    case undefined:
      if (plain) problems.push('a data frame without an event name in the plain format');
      else if (!isRecord(data) || typeof data.type !== 'string') {
        problems.push('a rendered frame without a type');
      }
      return problems;
    default:
      return [`an undocumented event ${describeValue(frame.event, 40)}`];
  }
}

/** Problems with the frames of a 200 stream; empty when they are as documented. */
export function sseStreamProblems(c: HttpCase, text: string): string[] {
  const blocks = completeFrames(text);
  if (blocks.length === 0) return ['a stream without a complete first frame'];
  const problems: string[] = [];
  for (const block of blocks) {
    const { frame, problems: lines } = parseFrame(block);
    problems.push(...lines);
    if (frame.id !== undefined && !EVENT_ID.test(frame.id))
      problems.push('an id that is not <epoch>:<seq>');
    if (frame.data === undefined) {
      if (frame.event !== undefined) problems.push('an event frame without data');
      continue;
    }
    let data: unknown;
    try {
      data = JSON.parse(frame.data);
    } catch {
      problems.push('data that is not JSON');
      continue;
    }
    problems.push(...dataProblems(c, frame, data));
  }
  return [...new Set(problems)];
}
