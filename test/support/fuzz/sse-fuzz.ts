/**
 * The Server-Sent Events fuzz: seeded stream and stream-ticket requests, each answer
 * checked as the other HTTP routes' are, and a stream's first frames as README documents
 * them. Tickets are single use, so each is bought right before the request that spends it.
 */
import type { Findings } from './findings.js';
import type { Fixture } from './fixture.js';
import type { Rng } from './fuzz-input.js';
import { TICKET_SLOT, type HttpCase, type TicketUse } from './http-cases.js';
import { runHttpCases } from './http-fuzz.js';
import { sseCase } from './sse-cases.js';
import { fixedSseCases } from './sse-fixed-cases.js';

export const SSE_CASES = 300;

/** Buys stream tickets with the user's token, and spends some before the fuzz does. */
class TicketDesk {
  constructor(
    private readonly fx: Fixture,
    private readonly findings: Findings,
  ) {}

  async ticketFor(use: TicketUse): Promise<string> {
    const url = `${this.fx.relay.url}/threads/${encodeURIComponent(use.threadId)}`;
    const response = await fetch(`${url}/stream-tickets`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.fx.tokens.get(use.userId) as string}` },
    });
    const body = (await response.json()) as { ticket?: unknown };
    if (response.status !== 201 || typeof body.ticket !== 'string') {
      this.findings.add(
        `sse: no ticket for a user's own thread (${response.status})`,
        `${use.userId} ${use.threadId} -> ${JSON.stringify(body)}`,
      );
      return 'no-ticket';
    }
    if (use.kind === 'fresh') return body.ticket;
    // Spent on a stream of its own thread first, which is then closed at once.
    const abort = new AbortController();
    const stream = await fetch(`${url}/events?ticket=${body.ticket}`, { signal: abort.signal });
    abort.abort();
    if (stream.status !== 200) {
      this.findings.add(`sse: a fresh ticket refused (${stream.status})`, use.threadId);
    }
    return body.ticket;
  }
}

export async function runSseFuzz(fx: Fixture, rng: Rng, findings: Findings): Promise<number> {
  // Every user's first thread has events, so its streams have more than a keep-alive to show.
  for (const user of fx.users) {
    const threadId = (fx.threadsOf.get(user) as string[])[0] as string;
    for (let n = 0; n < 3; n += 1) {
      const receipt = await fx.relay.delivery.sendToThread(threadId, 'fz.sse', { n });
      fx.logs.set(threadId, { epoch: receipt.epoch, head: receipt.seq });
    }
  }
  const desk = new TicketDesk(fx, findings);
  const cases = [
    ...fixedSseCases(fx),
    ...Array.from({ length: SSE_CASES }, () => sseCase(rng, fx)),
  ];
  return runHttpCases(fx, cases, findings, async (c): Promise<HttpCase> => {
    const use = c.sse?.ticket;
    if (!use) return c;
    return { ...c, path: c.path.replace(TICKET_SLOT, await desk.ticketFor(use)) };
  });
}
