import type { JsonValue, ThreadEvent } from '../protocol.js';

/** What a stored event holds besides its thread, seq and epoch (the key, id and meta say those). */
export interface EventBody {
  id: string;
  type: string;
  payload: JsonValue;
  runId?: string;
  ts: number;
}

/** The event as every log and bus hands it out: no stray properties, no `runId` key when there is none. */
export function toThreadEvent(
  threadId: string,
  seq: number,
  epoch: string,
  body: EventBody,
): ThreadEvent {
  const event: ThreadEvent = {
    id: body.id,
    threadId,
    seq,
    epoch,
    type: body.type,
    payload: body.payload,
    ts: body.ts,
  };
  if (body.runId !== undefined) event.runId = body.runId;
  return event;
}

/** The stored JSON of an event; `payloadJson`, when given, is the payload already serialised. */
export function encodeEventBody(body: EventBody & { payloadJson?: string }): string {
  const payload = body.payloadJson ?? JSON.stringify(body.payload);
  const runId = body.runId === undefined ? '' : `,"runId":${JSON.stringify(body.runId)}`;
  return `{"id":${JSON.stringify(body.id)},"type":${JSON.stringify(body.type)},"payload":${payload},"ts":${JSON.stringify(body.ts)}${runId}}`;
}

/** What every event carries, stored or sent to a user: a string id and type, a numeric ts. */
export function hasEventFields(
  parsed: unknown,
): parsed is { id: string; type: string; ts: number } & Record<string, unknown> {
  return (
    typeof parsed === 'object' &&
    parsed !== null &&
    'id' in parsed &&
    typeof parsed.id === 'string' &&
    'type' in parsed &&
    typeof parsed.type === 'string' &&
    'ts' in parsed &&
    typeof parsed.ts === 'number'
  );
}

/** Parses a stored body; throws (naming `what`) on anything that is not one. */
export function decodeEventBody(text: string | undefined, what: string): EventBody {
  const parsed: unknown = text === undefined ? undefined : JSON.parse(text);
  if (
    hasEventFields(parsed) &&
    'payload' in parsed &&
    (!('runId' in parsed) || typeof parsed.runId === 'string')
  ) {
    return parsed as unknown as EventBody;
  }
  throw new Error(`${what} is not a readable event`);
}
