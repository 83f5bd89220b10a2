import type { JsonValue } from '../protocol.js';

/** An event payload's fields; a payload that is not an object is `{ value }`. */
export type Payload = Record<string, JsonValue>;

export function asPayload(payload: JsonValue): Payload {
  return typeof payload === 'object' && payload !== null && !Array.isArray(payload)
    ? payload
    : { value: payload };
}

/** A field that must be a string to be used. */
export function text(value: JsonValue | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
