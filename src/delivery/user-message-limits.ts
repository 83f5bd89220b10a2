/**
 * Room kept in an event for a user message's other fields: `userId` (<= 200 chars),
 * `clientMessageId` (<= 100) and the JSON around them.
 */
const ENVELOPE_BYTES = 400;

/**
 * Largest `text` of a user message, in bytes of its JSON encoding (UTF-8): what keeps the
 * stored event within `delivery.maxEventBytes`, so a text the check accepts is never
 * refused later as an oversized event, whatever its script or escapes.
 */
export function userMessageTextLimit(maxEventBytes: number): number {
  return Math.max(0, maxEventBytes - ENVELOPE_BYTES);
}
