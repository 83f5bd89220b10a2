import type { ThreadEvent } from '../protocol.js';
import { asPayload, text } from './payload-fields.js';

/**
 * The id of what one event renders as (a message, a part): with the log's epoch, because a
 * new log under the thread numbers its events from 1 again.
 */
export function renderedId(threadId: string, event: ThreadEvent): string {
  return `${threadId}:${event.epoch}:${event.seq}`;
}

/** The run an `agent_started` event opens: the payload's `runId`, the event's, else its place in the log. */
export function startedRunId(event: ThreadEvent): string {
  return text(asPayload(event.payload).runId) ?? event.runId ?? `run-${event.epoch}-${event.seq}`;
}
