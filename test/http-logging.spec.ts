import { createServer, type Server } from 'node:http';
import { Writable } from 'node:stream';
import { pinoHttp } from 'pino-http';
import { httpLoggerOptions, REQUEST_ID_HEADER } from '../src/demo/http-logging.js';
import { waitUntil } from './support/wait-until.js';

describe('reference server HTTP logging', () => {
  const lines: Record<string, unknown>[] = [];
  let server: Server;
  let url: string;

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) {
          lines.push(JSON.parse(line) as Record<string, unknown>);
        }
        done();
      },
    });
    const logger = pinoHttp(httpLoggerOptions('info'), sink);
    server = createServer((request, response) => {
      // Express parses the query string onto the request; the serializer logs it as `req.query`.
      const query = new URL(request.url ?? '/', 'http://localhost').searchParams;
      Object.assign(request, { query: Object.fromEntries(query) });
      logger(request, response);
      response.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address() as { port: number };
    url = `http://127.0.0.1:${address.port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve, reject) =>
      server.close((error) => (error ? reject(error) : resolve())),
    );
  });

  const logged = async (id: string) => {
    const find = () => lines.find((l) => (l.req as { id?: unknown } | undefined)?.id === id);
    await waitUntil(() => find() !== undefined, `a log line for request ${id}`, {
      timeoutMs: 5000,
      intervalMs: 0,
    });
    return find() ?? {};
  };

  it('keeps a well-formed incoming x-request-id, echoes it, and redacts Authorization', async () => {
    const response = await fetch(`${url}/threads/t/messages`, {
      headers: { 'x-request-id': 'req-abc.123', authorization: 'Bearer secret-jwt-value' },
    });
    expect(response.headers.get(REQUEST_ID_HEADER)).toBe('req-abc.123');
    const line = await logged('req-abc.123');
    const text = JSON.stringify(line);
    expect(text).not.toContain('secret-jwt-value');
    expect((line.req as { headers: Record<string, string> }).headers.authorization).toBe(
      '[redacted]',
    );
  });

  it('generates a UUID when the incoming id is missing or malformed', async () => {
    const cases: Record<string, string>[] = [{}, { 'x-request-id': 'bad id with spaces' }];
    for (const headers of cases) {
      const response = await fetch(`${url}/x`, { headers });
      const id = response.headers.get(REQUEST_ID_HEADER) ?? '';
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      await logged(id);
    }
  });

  it('does not log /health and /metrics probes', async () => {
    await fetch(`${url}/health`, { headers: { 'x-request-id': 'probe-1' } });
    const marker = await fetch(`${url}/after-probe`, { headers: { 'x-request-id': 'probe-2' } });
    expect(marker.status).toBe(200);
    await logged('probe-2');
    expect(lines.some((l) => (l.req as { id?: unknown } | undefined)?.id === 'probe-1')).toBe(
      false,
    );
  });

  it('redacts credential values in req.url and req.query, keeping the rest', async () => {
    await fetch(`${url}/threads/t/events?lastEventId=a:1&token=secret-value&ticket=tkt-secret`, {
      headers: { 'x-request-id': 'query-1' },
    });
    const line = await logged('query-1');
    const text = JSON.stringify(line);
    expect(text).not.toContain('secret-value');
    expect(text).not.toContain('tkt-secret');
    const req = line.req as { url: string; query: Record<string, string> };
    expect(req.url).toBe('/threads/t/events?lastEventId=a:1&token=[redacted]&ticket=[redacted]');
    expect(req.query).toEqual({ lastEventId: 'a:1', token: '[redacted]', ticket: '[redacted]' });
  });

  it('matches sensitive names case-insensitively, encoded or nested', async () => {
    const query = [
      'Access_Token=v1',
      'ID_TOKEN=v2',
      'Auth=v3',
      'AUTHORIZATION=v4',
      'Key=v5',
      'api_key=v6',
      'ApiKey=v7',
      'PassWord=v8',
      'SECRET=v9',
      '%74oken=v10',
      'filter[password]=v11',
      'page=2',
    ].join('&');
    await fetch(`${url}/x?${query}`, { headers: { 'x-request-id': 'query-2' } });
    const line = await logged('query-2');
    const text = JSON.stringify(line);
    for (let n = 1; n <= 11; n++) expect(text).not.toMatch(new RegExp(`v${n}\\b`));
    const req = line.req as { url: string; query: Record<string, string> };
    expect(req.url).toContain('Access_Token=[redacted]');
    expect(req.url).toContain('page=2');
    expect(req.query.page).toBe('2');
    expect(req.query.ApiKey).toBe('[redacted]');
  });
});
