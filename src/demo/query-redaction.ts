export const REDACTED = '[redacted]';

/**
 * Query parameters whose values are credentials, compared lowercased with `-` and `_`
 * removed so `api_key`, `api-key` and `apiKey` are one name. Clients that cannot set
 * headers (EventSource, links) put credentials in the URL, so the URL is not safe to log.
 */
const SENSITIVE_NAMES = new Set([
  'token',
  'ticket',
  'accesstoken',
  'idtoken',
  'refreshtoken',
  'auth',
  'authorization',
  'key',
  'apikey',
  'password',
  'secret',
  'clientsecret',
  'jwt',
  'signature',
]);

function isSensitiveSegment(segment: string): boolean {
  return SENSITIVE_NAMES.has(segment.toLowerCase().replace(/[-_]/g, ''));
}

function decodedName(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return raw;
  }
}

/** `filter[password]` hides a credential as surely as `password` does (qs-style nesting). */
function isSensitiveKey(name: string): boolean {
  return name.split(/[[\]]/).some((segment) => segment !== '' && isSensitiveSegment(segment));
}

function redactPair(pair: string): string {
  const equals = pair.indexOf('=');
  if (equals === -1 || !isSensitiveKey(decodedName(pair.slice(0, equals)))) return pair;
  return `${pair.slice(0, equals + 1)}${REDACTED}`;
}

/**
 * The URL with credential values replaced. Everything else is kept byte for byte (no
 * re-encoding) so the logged path still matches what the client sent.
 */
export function redactUrl(url: string): string {
  const queryStart = url.indexOf('?');
  if (queryStart === -1) return url;
  const hashStart = url.indexOf('#', queryStart);
  const end = hashStart === -1 ? url.length : hashStart;
  const query = url
    .slice(queryStart + 1, end)
    .split('&')
    .map(redactPair)
    .join('&');
  return `${url.slice(0, queryStart + 1)}${query}${url.slice(end)}`;
}

/**
 * A parsed query (express's `req.query`) with credential values replaced, as a copy:
 * the logger must never change what the route handler reads.
 */
export function redactQuery(query: unknown): unknown {
  if (Array.isArray(query)) return query.map(redactQuery);
  if (typeof query !== 'object' || query === null) return query;
  return Object.fromEntries(
    Object.entries(query).map(([name, value]) => [
      name,
      isSensitiveKey(name) ? REDACTED : redactQuery(value),
    ]),
  );
}
