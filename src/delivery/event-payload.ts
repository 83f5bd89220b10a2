import { InvalidPayloadError } from '../errors/invalid-payload.error.js';
import type { JsonValue } from '../protocol.js';

const TYPE_PATTERN = /^[A-Za-z0-9_.:-]{1,100}$/;

export function assertEventType(type: unknown): string {
  if (typeof type !== 'string' || !TYPE_PATTERN.test(type)) {
    throw new InvalidPayloadError(
      'INVALID_EVENT_TYPE',
      `Event type must be 1-100 characters of letters, digits and _ . : -, got ${typeof type === 'string' ? JSON.stringify(type.slice(0, 100)) : typeof type}`,
    );
  }
  return type;
}

/** A payload as it will be read back, and its JSON (which stores reuse rather than redo). */
export interface NormalisedPayload {
  value: JsonValue;
  json: string;
}

/**
 * Serialises the payload once, refusing what JSON cannot carry faithfully (undefined,
 * functions, symbols, BigInt, cycles) and what exceeds `maxBytes`, before anything is
 * stored. Returns the payload as it will be read back (e.g. Dates become strings).
 */
export function normalisePayload(payload: unknown, maxBytes: number): NormalisedPayload {
  if (payload === undefined || typeof payload === 'function' || typeof payload === 'symbol') {
    throw new InvalidPayloadError(
      'PAYLOAD_NOT_JSON',
      `Event payload must be JSON, got ${typeof payload}`,
    );
  }
  let text: string | undefined;
  try {
    text = JSON.stringify(payload);
  } catch (error) {
    throw new InvalidPayloadError(
      'PAYLOAD_NOT_JSON',
      `Event payload is not JSON-serialisable: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  if (text === undefined) {
    throw new InvalidPayloadError('PAYLOAD_NOT_JSON', 'Event payload is not JSON-serialisable');
  }
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > maxBytes) {
    throw new InvalidPayloadError(
      'PAYLOAD_TOO_LARGE',
      `Event payload is ${bytes} bytes, above the ${maxBytes}-byte limit (delivery.maxEventBytes)`,
    );
  }
  return { value: JSON.parse(text) as JsonValue, json: text };
}
