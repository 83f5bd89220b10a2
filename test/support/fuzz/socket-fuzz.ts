/**
 * The socket fuzz: seeded cases on two connections per user (one acks every event), each
 * answer checked against the Ack shape and the isolation oracle, every notice checked too.
 */
import { errorBodyProblems, okAckProblems } from './answer-shapes.js';
import type { Findings } from './findings.js';
import { mayTouch, type Fixture } from './fixture.js';
import { describeValue, toJsonText, type Rng } from './fuzz-input.js';
import { isRecord, type Json } from './json.js';
import { KNOWN_EVENTS, socketCase, type SocketCase } from './socket-cases.js';
import { WireClient } from './wire-client.js';

export const SOCKET_CASES = 2000;
/** Socket cases in flight per connection. */
const SOCKET_BATCH = 16;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

interface FuzzConnection {
  userId: string;
  client: WireClient;
  joined: Set<string>;
  /** Recent cases sent without an ack, to name the input behind a bad notice. */
  recentNoAck: SocketCase[];
  /** Every event it sends has an ack: a relay:error notice on it would be a second answer. */
  ackOnly: boolean;
  checkedNotices: number;
}

async function openFuzzConnection(
  fx: Fixture,
  userId: string,
  ackOnly: boolean,
): Promise<FuzzConnection> {
  const client = await WireClient.connect(fx.relay.url, fx.tokens.get(userId) as string);
  client.onThreadEvent = (event) => {
    if (typeof event.threadId !== 'string' || typeof event.epoch !== 'string') return;
    const seq = typeof event.seq === 'number' ? event.seq : 0;
    const known = fx.logs.get(event.threadId);
    if (!known || known.epoch !== event.epoch || known.head < seq) {
      fx.logs.set(event.threadId, { epoch: event.epoch, head: seq });
    }
  };
  return { userId, client, joined: new Set(), recentNoAck: [], checkedNotices: 0, ackOnly };
}

function caseText(c: SocketCase, userId: string): string {
  return `${userId} emits ${describeValue(c.event, 80)} ${describeValue(c.args)}${c.ack ? ' with ack' : ''}`;
}

/** Checks the relay:error notices a connection got since the last look. */
function checkNotices(conn: FuzzConnection, findings: Findings): void {
  const fresh = conn.client.notices.slice(conn.checkedNotices);
  conn.checkedNotices = conn.client.notices.length;
  for (const notice of fresh) {
    const code = isRecord(notice.error) ? String(notice.error.code) : '?';
    findings.saw(`relay:error notice for ${describeValue(notice.event, 40)} -> ${code}`);
    if (conn.ackOnly) {
      findings.add(
        'socket: a relay:error notice on a connection whose every event had an ack (answered twice?)',
        notice.raw,
      );
    }
    const candidates = conn.recentNoAck.filter((c) => c.event === notice.event).slice(-3);
    const inputs = candidates.map((c) => caseText(c, conn.userId)).join(' | ') || 'unknown input';
    const error = isRecord(notice.error) ? notice.error : undefined;
    if (notice.event !== null && typeof notice.event !== 'string') {
      findings.add('socket: relay:error notice with a non-string event', notice.raw);
    }
    if (!error) {
      findings.add('socket: relay:error notice without an error object', notice.raw);
      continue;
    }
    if (error.code === 'INTERNAL') {
      findings.add(
        `socket: INTERNAL relay:error notice for ${String(notice.event)}`,
        `${notice.raw} after ${inputs}`,
      );
      continue;
    }
    for (const problem of errorBodyProblems({ error })) {
      findings.add(`socket: relay:error notice: ${problem}`, `${notice.raw} after ${inputs}`);
    }
  }
  if (conn.recentNoAck.length > 200) conn.recentNoAck.splice(0, conn.recentNoAck.length - 50);
}

function checkSocketAnswer(
  fx: Fixture,
  conn: FuzzConnection,
  c: SocketCase,
  answer: unknown,
  findings: Findings,
): void {
  const input = caseText(c, conn.userId);
  const event = typeof c.event === 'string' ? c.event : `<${typeof c.event}>`;
  const label = KNOWN_EVENTS.includes(event) ? event : 'unknown event';
  findings.saw(
    `${label} -> ${isRecord(answer) ? (answer.ok === true ? 'ok' : String((answer.error as Json | undefined)?.code)) : '?'}`,
  );
  if (!isRecord(answer) || (answer.ok !== true && answer.ok !== false)) {
    findings.add(`socket: ${label} answered without ok`, `${input} -> ${describeValue(answer)}`);
    return;
  }
  if (answer.ok === false) {
    const error = isRecord(answer.error) ? answer.error : {};
    if (error.code === 'INTERNAL') {
      findings.add(`socket: INTERNAL answer to ${label}`, `${input} -> ${describeValue(answer)}`);
      return;
    }
    for (const problem of errorBodyProblems(answer)) {
      findings.add(
        `socket: ${label} error answer: ${problem}`,
        `${input} -> ${describeValue(answer)}`,
      );
    }
    return;
  }
  const payload = isRecord(c.args[0]) ? c.args[0] : {};
  for (const problem of okAckProblems(event, answer, payload.threadId)) {
    findings.add(`socket: ${label} ok answer: ${problem}`, `${input} -> ${describeValue(answer)}`);
  }
  if (event === 'thread:join' || event === 'user:message') {
    const threadId = payload.threadId;
    const may = mayTouch(fx, conn.userId, threadId);
    if (may === 'no') {
      findings.add(`socket: ${event} succeeded on a thread the user may not use`, input);
    } else if (may === 'unknown' && typeof threadId === 'string') {
      fx.ownerOf.set(threadId, conn.userId); // auto-registered to this user
    }
    if (typeof threadId === 'string' && typeof answer.epoch === 'string') {
      const head = event === 'thread:join' ? answer.headSeq : answer.seq;
      const known = fx.logs.get(threadId);
      if (
        typeof head === 'number' &&
        (!known || known.epoch !== answer.epoch || known.head < head)
      ) {
        fx.logs.set(threadId, { epoch: answer.epoch, head });
      }
    }
    if (event === 'thread:join' && typeof threadId === 'string') conn.joined.add(threadId);
  }
  if (event === 'thread:leave' && typeof payload.threadId === 'string') {
    conn.joined.delete(payload.threadId);
  }
  if (event === 'auth:refresh' && payload.token !== fx.tokens.get(conn.userId)) {
    findings.add('socket: auth:refresh accepted a token that is not the user', input);
  }
}

export async function runSocketFuzz(fx: Fixture, rng: Rng, findings: Findings): Promise<number> {
  const connections: FuzzConnection[] = [];
  for (const user of fx.users) {
    connections.push(
      await openFuzzConnection(fx, user, true),
      await openFuzzConnection(fx, user, false),
    );
  }
  const perConnection = Math.ceil(SOCKET_CASES / connections.length);
  let sent = 0;
  await Promise.all(
    connections.map(async (conn, index) => {
      const crng = rng.fork(`conn-${index}`);
      let remaining = perConnection;
      while (remaining > 0) {
        const size = Math.min(SOCKET_BATCH, remaining);
        remaining -= size;
        const batch = Array.from({ length: size }, () =>
          socketCase(crng, fx, conn.userId, conn.joined, conn.ackOnly),
        );
        sent += batch.length;
        const pending: Array<Promise<void>> = [];
        for (const c of batch) {
          const args = [c.event, ...c.args];
          if (!c.ack) {
            conn.recentNoAck.push(c);
            conn.client.send(`2${toJsonText(args)}`);
            continue;
          }
          pending.push(
            conn.client.emitWithAck(args).then((outcome) => {
              if ('answer' in outcome) checkSocketAnswer(fx, conn, c, outcome.answer, findings);
              else if ('timeout' in outcome) {
                findings.add(
                  'socket: no answer within 10 s to an event sent with an ack',
                  caseText(c, conn.userId),
                );
              }
            }),
          );
        }
        await Promise.all(pending);
        checkNotices(conn, findings);
        if (conn.client.closed) {
          findings.add(
            'socket: the server closed a connection during malformed input',
            `last batch: ${batch
              .map((c) => caseText(c, conn.userId))
              .join(' | ')
              .slice(0, 1500)}`,
          );
          const fresh = await openFuzzConnection(fx, conn.userId, conn.ackOnly);
          conn.client = fresh.client;
          conn.joined.clear();
          conn.checkedNotices = 0;
        }
      }
    }),
  );
  // Late or duplicate answers: give them a moment, then count.
  await sleep(300);
  for (const conn of connections) {
    checkNotices(conn, findings);
    for (const [id, answers] of conn.client.acks) {
      if (answers.length > 1) {
        findings.add(
          'socket: an event was answered more than once',
          `ack ${id}: ${describeValue(answers)}`,
        );
      }
    }
    for (const garbage of conn.client.garbage) {
      findings.add('socket: the server sent a packet that is not JSON', garbage);
    }
    if (conn.client.closedByServer) {
      findings.add('socket: the server closed a connection during malformed input', conn.userId);
    }
    conn.client.close();
  }
  return sent;
}
