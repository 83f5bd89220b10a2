import { createServer, type Server } from 'node:http';
import { Writable } from 'node:stream';
import { pinoHttp } from 'pino-http';
import { httpLoggerOptions, REQUEST_ID_HEADER } from '../src/demo/http-logging.js';

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
    const deadline = Date.now() + 5000;
    for (;;) {
      const line = lines.find((l) => (l.req as { id?: unknown } | undefined)?.id === id);
      if (line) return line;
      if (Date.now() > deadline) throw new Error(`no log line for request ${id}`);
      await new Promise((r) => setImmediate(r));
    }
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
});
