import type { ThreadEvent } from '../protocol.js';
import { asPayload } from './payload-fields.js';

/** An event of a rendered format as it goes on the wire: its `type` and its fields. */
export interface WireObject {
  type: string;
  [field: string]: unknown;
}

/**
 * A producer's event of type `<prefix><type>` is the format's own already: its payload holds
 * the fields. Undefined for any other event.
 */
export function nativeObject(event: ThreadEvent, prefix: string): WireObject | undefined {
  if (!event.type.startsWith(prefix)) return undefined;
  return { ...asPayload(event.payload), type: event.type.slice(prefix.length) };
}
