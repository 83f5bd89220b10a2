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
import { httpCase, type HttpCase } from './http-cases.js';
import { isRecord } from './json.js';

export const HTTP_CASES = 1500;
const HTTP_CONCURRENCY = 24;

interface HttpAnswer {
  status: number;
  contentType: string;
  text: string;
  error?: string;
}

function sendHttp(baseUrl: string, agent: http.Agent, c: HttpCase): Promise<HttpAnswer> {
  const url = new URL(baseUrl);
  return new Promise((resolve) => {
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
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () =>
            resolve({
              status: response.statusCode ?? 0,
              contentType: response.headers['content-type'] ?? '',
              text: Buffer.concat(chunks).toString('utf8'),
            }),
          );
          response.on('error', (error) =>
            resolve({ status: 0, contentType: '', text: '', error: error.message }),
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
      resolve({ status: 0, contentType: '', text: '', error: error.message }),
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
    const authorized = route.startsWith('debug:') ? c.auth === 'admin' : c.auth === 'user';
    if (!authorized) findings.add(`http ${route}: ${a.status} without the right credential`, out);
    if (route.startsWith('history:') && c.userId !== undefined) {
      const may = mayTouch(fx, c.userId, c.threadId);
      if (may === 'no' && c.pathKind === 'encoded') {
        findings.add(`http ${route}: succeeded on a thread the user may not use`, out);
      } else if (may === 'unknown' && typeof c.threadId === 'string' && route === 'history:post') {
        fx.ownerOf.set(c.threadId, c.userId);
      }
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
  if (!route.startsWith('debug:') && c.auth === 'user' && error.code === 'UNAUTHORIZED') {
    findings.add(`http ${route}: a valid user token refused`, out);
  }
}

export async function runHttpFuzz(fx: Fixture, rng: Rng, findings: Findings): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: HTTP_CONCURRENCY });
  let next = 0;
  let sent = 0;
  const cases = [
    ...fixedHttpCases(fx),
    ...Array.from({ length: HTTP_CASES }, () => httpCase(rng, fx)),
  ];
  try {
    await Promise.all(
      Array.from({ length: HTTP_CONCURRENCY }, async () => {
        while (next < cases.length) {
          const c = cases[next++] as HttpCase;
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
