/**
 * The random Server-Sent Events requests: `GET /threads/:id/events` with a bearer token
 * or a stream ticket (fresh, spent, forged, for another thread), cursors and formats
 * near-valid or not, and `POST /threads/:id/stream-tickets` with any body.
 */
import { idChars, percentEncode, randomString, type Rng } from './fuzz-input.js';
import { pickThreadId, type Fixture } from './fixture.js';
import {
  pathSegment,
  pickAuth,
  queryValue,
  TICKET_SLOT,
  type HttpCase,
  type TicketUse,
} from './http-cases.js';
import { bodyFor } from './http-bodies.js';

/** A `Last-Event-ID`: a cursor of the thread's log, of another log, or not a cursor at all. */
function pickCursor(rng: Rng, fx: Fixture, threadId: unknown): string {
  const log = typeof threadId === 'string' ? fx.logs.get(threadId) : undefined;
  const epoch = log?.epoch ?? '';
  const head = log?.head ?? 0;
  return rng.weighted<() => string>([
    [20, () => `${epoch}:${rng.int(head + 2)}`],
    [8, () => `${epoch}:${head}`],
    [6, () => ':0'],
    [6, () => `${'a'.repeat(64)}:${rng.int(5)}`],
    [4, () => `${'a'.repeat(65)}:1`],
    [4, () => `${epoch}:${'9'.repeat(rng.range(15, 16))}`],
    [4, () => `${epoch}:-1`],
    [4, () => `${epoch.toUpperCase()}:1`],
    [4, () => `${epoch}`],
    [10, () => queryValue(rng)],
  ])();
}

/** A `?format=`: the three documented ones, or something else. */
function pickFormat(rng: Rng): string | undefined {
  return rng.weighted<string | undefined>([
    [30, undefined],
    [15, 'events'],
    [15, 'ag-ui'],
    [15, 'ai-sdk'],
    [3, ''],
    [3, 'AG-UI'],
    [3, 'ai_sdk'],
    [4, percentEncode(randomString(rng, 12)) || 'x'],
  ]);
}

/** How a ticket-mode request names its ticket, and whether it is expected to open the stream. */
function ticketQuery(
  rng: Rng,
  fx: Fixture,
  userId: string,
  threadId: unknown,
): { query: string; use?: TicketUse; valid: boolean } {
  const own = fx.threadsOf.get(userId) ?? [];
  const kind = rng.weighted<string>([
    [50, 'fresh'],
    [12, 'fresh-other-thread'],
    [10, 'spent'],
    [10, 'forged'],
    [10, 'junk'],
    [8, 'not-a-string'],
  ]);
  switch (kind) {
    case 'fresh':
    case 'spent': {
      // For the thread in the path, when the user may read it; else one of its own.
      const target =
        typeof threadId === 'string' && own.includes(threadId) ? threadId : rng.pick(own);
      return {
        query: `ticket=${TICKET_SLOT}`,
        use: { kind, userId, threadId: target },
        valid: kind === 'fresh' && target === threadId,
      };
    }
    case 'fresh-other-thread': {
      const other = rng.pick(own.filter((t) => t !== threadId));
      return {
        query: `ticket=${TICKET_SLOT}`,
        use: { kind: 'fresh', userId, threadId: other },
        valid: false,
      };
    }
    case 'forged':
      return { query: `ticket=${idChars(rng, 32).replace(/[.:@]/g, '_')}`, valid: false };
    case 'junk':
      return { query: `ticket=${queryValue(rng)}`, valid: false };
    default:
      // Twice: an array under any query parser (`ticket[]=` is one under some only).
      return { query: `ticket=${idChars(rng, 32)}&ticket=${queryValue(rng)}`, valid: false };
  }
}

export function sseCase(rng: Rng, fx: Fixture): HttpCase {
  const route = rng.weighted<'sse:events' | 'sse:ticket'>([
    [70, 'sse:events'],
    [30, 'sse:ticket'],
  ]);
  const byTicket = route === 'sse:events' && rng.chance(0.35);
  const { headers, auth, userId } = pickAuth(rng, fx, false);
  // A ticket names its user: a header the request also sends is ignored, so mostly none.
  const holder = userId ?? rng.pick(fx.users);
  if (byTicket && rng.chance(0.7)) delete headers.authorization;
  const picked = pickThreadId(rng, fx, holder, false);
  const segment = pathSegment(rng, picked.id);
  const c: HttpCase = {
    route,
    method: route === 'sse:ticket' ? 'POST' : 'GET',
    path: `/threads/${segment.segment}/${route === 'sse:ticket' ? 'stream-tickets' : 'events'}`,
    headers,
    auth,
    pathKind: segment.kind,
    threadId: segment.decoded,
    ...(byTicket || userId !== undefined ? { userId: holder } : {}),
  };
  if (route === 'sse:ticket') {
    if (rng.chance(0.5)) {
      const body = bodyFor(rng, 'history:post', fx, holder);
      Object.assign(c.headers, body.headers);
      if (body.body !== undefined) c.body = body.body;
    }
    return c;
  }
  const query: string[] = [];
  if (byTicket) {
    const ticket = ticketQuery(rng, fx, holder, segment.decoded);
    query.push(ticket.query);
    c.auth = ticket.valid && segment.kind === 'encoded' ? 'ticket' : 'bad';
    if (ticket.use) c.sse = { format: 'events', ticket: ticket.use };
  }
  const format = pickFormat(rng);
  if (format !== undefined) query.push(`format=${format}`);
  if (rng.chance(0.3)) {
    const cursor = pickCursor(rng, fx, segment.decoded);
    if (rng.chance(0.5)) query.push(`lastEventId=${percentEncode(cursor, /[A-Za-z0-9_.~:-]/)}`);
    else c.headers['last-event-id'] = cursor.replace(/[^\t\x20-\x7e]/g, '?');
  }
  if (rng.chance(0.05)) query.push(`${percentEncode(randomString(rng, 10))}=${queryValue(rng)}`);
  if (query.length > 0) c.path += `?${query.join('&')}`;
  c.sse = { ...c.sse, format: format || 'events' };
  return c;
}
