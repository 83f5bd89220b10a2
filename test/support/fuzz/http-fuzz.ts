/**
 * The HTTP fuzz: the fixed and random requests sent concurrently, each answer checked for
 * the documented shape, a status matching its code, credentials and thread isolation.
 */
import http from 'node:http';
import { errorBodyProblems, okBodyProblems, STATUS_BY_CODE } from './answer-shapes.js';
import type { Findings } from './findings.js';
import { mayTouch, type Fixture } from './fixture.js';
import { describeValue, type Rng } from './fuzz-input.js';
import { fixedHttpCases } from './http-fixed-cases.js';
import { httpCase, type HttpCase, type RouteName } from './http-cases.js';
import { isRecord } from './json.js';
import { completeFrames, SSE_FRAMES_READ, sseStreamProblems } from './sse-frames.js';

export const HTTP_CASES = 1500;
const HTTP_CONCURRENCY = 24;

export interface HttpAnswer {
  status: number;
  contentType: string;
  text: string;
  /** A `text/event-stream` answer, read up to its first frames. */
  stream?: boolean;
  error?: string;
}

/**
 * Sends one case and reads its answer. A `text/event-stream` answer never ends by itself:
 * its first frames are read, then the request is aborted.
 */
export function sendHttp(baseUrl: string, agent: http.Agent, c: HttpCase): Promise<HttpAnswer> {
  const url = new URL(baseUrl);
  return new Promise((resolve) => {
    let settled = false;
    const settle = (answer: HttpAnswer) => {
      if (settled) return;
      settled = true;
      resolve(answer);
    };
    let request: http.ClientRequest;
    try {
      request = http.request(
        {
          host: url.hostname,
          port: url.port,
          method: c.method,
          path: c.path,
          headers: c.headers,
          agent,
        },
        (response) => {
          const contentType = response.headers['content-type'] ?? '';
          const stream = contentType.startsWith('text/event-stream');
          const answer = (text: string): HttpAnswer => ({
            status: response.statusCode ?? 0,
            contentType,
            text,
            ...(stream ? { stream } : {}),
          });
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => {
            chunks.push(chunk);
            if (!stream) return;
            const text = Buffer.concat(chunks).toString('utf8');
            if (completeFrames(text).length < SSE_FRAMES_READ) return;
            settle(answer(text));
            request.destroy();
          });
          response.on('end', () => settle(answer(Buffer.concat(chunks).toString('utf8'))));
          response.on('error', (error) =>
            settle({ status: 0, contentType: '', text: '', error: error.message }),
          );
        },
      );
    } catch (error) {
      // The client itself refused the request (an invalid header): not a server answer.
      resolve({ status: -1, contentType: '', text: '', error: (error as Error).message });
      return;
    }
    request.setTimeout(15_000, () => request.destroy(new Error('no answer within 15 s')));
    request.on('error', (error) =>
      settle({ status: 0, contentType: '', text: '', error: error.message }),
    );
    request.end(c.body);
  });
}

function httpCaseText(c: HttpCase): string {
  const headers = { ...c.headers };
  if (headers.authorization)
    headers.authorization = `<${c.auth}> ${describeValue(headers.authorization, 60)}`;
  const body = c.body === undefined ? '' : ` body ${describeValue(c.body.toString('utf8'), 300)}`;
  return `${c.method} ${c.path.length > 200 ? `${c.path.slice(0, 200)}...(${c.path.length} chars)` : c.path} ${describeValue(headers, 300)}${body}`;
}

function checkHttpAnswer(fx: Fixture, c: HttpCase, a: HttpAnswer, findings: Findings): void {
  const input = httpCaseText(c);
  const route = c.route;
  findings.saw(`${route} -> ${a.status} ${/"code":"([A-Z_]+)"/.exec(a.text)?.[1] ?? ''}`.trim());
  const out = `${input} -> ${a.status} ${a.contentType} ${a.text.slice(0, 300)}`;
  if (a.error !== undefined) {
    findings.add(`http ${route}: no answer (${a.error.slice(0, 60)})`, input);
    return;
  }
  if (route === 'metrics') {
    if (a.status !== 200 || !a.contentType.startsWith('text/plain')) {
      findings.add(`http metrics: ${a.status} ${a.contentType}`, out);
    }
    return;
  }
  if (a.stream) {
    checkStream(fx, c, a, findings, out);
    return;
  }
  let body: unknown;
  try {
    body = JSON.parse(a.text);
  } catch {
    findings.add(
      `http ${route}: ${a.status} answer that is not JSON (${a.contentType || 'no type'})`,
      out,
    );
    return;
  }
  if (!a.contentType.startsWith('application/json')) {
    findings.add(`http ${route}: JSON answer with content-type ${a.contentType}`, out);
  }
  if (!isRecord(body)) {
    findings.add(`http ${route}: answer is not a JSON object`, out);
    return;
  }
  if (route === 'health') {
    if (a.status !== 200 || body.status !== 'ok') findings.add(`http health: ${a.status}`, out);
    return;
  }
  if (a.status >= 200 && a.status < 300) {
    for (const problem of okBodyProblems(c, a.status, body)) {
      findings.add(`http ${route}: ${problem}`, out);
    }
    checkSuccess(fx, c, a.status, findings, out);
    if (route === 'producer:thread' && typeof body.threadId === 'string') {
      if (typeof body.ownerId === 'string') fx.ownerOf.set(body.threadId, body.ownerId);
    }
    return;
  }
  if ('statusCode' in body && !('ok' in body)) {
    const said = typeof body.message === 'string' ? body.message.replace(/'.*'/, "'...'") : '';
    findings.add(
      `http ${route}: ${a.status} in Nest's { statusCode, message } shape ("${said}")`,
      out,
    );
    return;
  }
  if (body.ok !== false) {
    findings.add(`http ${route}: ${a.status} error without ok: false`, out);
    return;
  }
  const error = isRecord(body.error) ? body.error : {};
  if (error.code === 'INTERNAL' || a.status >= 500) {
    if (!(a.status === 503 && error.code === 'RELAY_UNAVAILABLE')) {
      findings.add(`http ${route}: ${a.status} ${describeValue(error.code)}`, out);
      return;
    }
  }
  for (const problem of errorBodyProblems(body)) findings.add(`http ${route}: ${problem}`, out);
  const statuses = typeof error.code === 'string' ? STATUS_BY_CODE[error.code] : undefined;
  if (statuses && !statuses.includes(a.status)) {
    findings.add(`http ${route}: ${String(error.code)} with status ${a.status}`, out);
  }
  if (error.code === 'UNAUTHORIZED' && rightCredentials(route).includes(c.auth)) {
    findings.add(`http ${route}: a valid ${CREDENTIAL_NAMES[c.auth]} refused`, out);
  }
}

const CREDENTIAL_NAMES: Record<HttpCase['auth'], string> = {
  user: 'user token',
  'other-user': "another user's token",
  admin: 'admin token',
  producer: 'producer key',
  ticket: 'stream ticket',
  bad: 'bad credential',
  none: 'missing credential',
};

/** The credentials that open `route`. */
function rightCredentials(route: RouteName): Array<HttpCase['auth']> {
  if (route.startsWith('debug:')) return ['admin'];
  if (route.startsWith('producer:')) return ['producer'];
  if (route === 'sse:events') return ['user', 'ticket'];
  return ['user'];
}

/** A 2xx: the right credential, and for a user, a thread it may use. */
function checkSuccess(fx: Fixture, c: HttpCase, status: number, findings: Findings, out: string) {
  const { route } = c;
  if (!rightCredentials(route).includes(c.auth)) {
    findings.add(`http ${route}: ${status} without the right credential`, out);
  }
  if ((route.startsWith('history:') || route.startsWith('sse:')) && c.userId !== undefined) {
    const may = mayTouch(fx, c.userId, c.threadId);
    if (may === 'no' && c.pathKind === 'encoded') {
      findings.add(`http ${route}: succeeded on a thread the user may not use`, out);
    } else if (may === 'unknown' && typeof c.threadId === 'string' && route === 'history:post') {
      fx.ownerOf.set(c.threadId, c.userId);
    }
  }
}

/** A `text/event-stream` answer: only `GET /threads/:id/events` may open one, and only as a 200. */
function checkStream(fx: Fixture, c: HttpCase, a: HttpAnswer, findings: Findings, out: string) {
  const { route } = c;
  if (route !== 'sse:events' || a.status !== 200) {
    findings.add(`http ${route}: a ${a.status} event stream`, out);
    return;
  }
  if (c.auth === 'ticket') findings.saw('sse:events by ticket -> 200');
  checkSuccess(fx, c, a.status, findings, out);
  for (const problem of sseStreamProblems(c, a.text))
    findings.add(`http ${route}: ${problem}`, out);
}

/**
 * Sends `cases` `HTTP_CONCURRENCY` at a time and checks every answer; `prepare` may
 * complete a case right before it goes (a single-use ticket). Answers the number sent.
 */
export async function runHttpCases(
  fx: Fixture,
  cases: HttpCase[],
  findings: Findings,
  prepare: (c: HttpCase) => Promise<HttpCase> = (c) => Promise.resolve(c),
): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: HTTP_CONCURRENCY });
  let next = 0;
  let sent = 0;
  try {
    await Promise.all(
      Array.from({ length: HTTP_CONCURRENCY }, async () => {
        while (next < cases.length) {
          const c = await prepare(cases[next++] as HttpCase);
          const answer = await sendHttp(fx.relay.url, agent, c);
          if (answer.status === -1) continue; // refused by the client, never sent
          sent += 1;
          checkHttpAnswer(fx, c, answer, findings);
        }
      }),
    );
  } finally {
    agent.destroy();
  }
  return sent;
}

export function runHttpFuzz(fx: Fixture, rng: Rng, findings: Findings): Promise<number> {
  const cases = [
    ...fixedHttpCases(fx),
    ...Array.from({ length: HTTP_CASES }, () => httpCase(rng, fx)),
  ];
  return runHttpCases(fx, cases, findings);
}
