import { type INestApplication, type LoggerService } from '@nestjs/common';
import { Writable } from 'node:stream';
import { Logger, LoggerModule } from 'nestjs-pino';
import { jwtAuthenticator, ThreadRegistryService, ThreadRelayModule } from '../src/index.js';
import { RelayLogger } from '../src/thread-relay.logger.js';
import { startHostApp, startRelayApp, TEST_JWT_SECRET } from './support/relay-app.js';
import { waitUntil } from './support/wait-until.js';

/** Every `"msg":` key of a raw line, in order; a JSON parser would keep only the last one. */
function msgValues(line: string): string[] {
  return [...line.matchAll(/"msg":("(?:[^"\\]|\\.)*")/g)].map(
    ([, quoted]) => JSON.parse(quoted ?? 'null') as string,
  );
}

describe('module log lines under nestjs-pino', () => {
  const lines: string[] = [];
  let app: INestApplication;

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    });
    ({ app } = await startHostApp({
      imports: [
        LoggerModule.forRoot({ pinoHttp: [{ level: 'info' }, sink] }),
        ThreadRelayModule.forRoot({ authenticate: jwtAuthenticator({ secret: TEST_JWT_SECRET }) }),
      ],
      nest: { bufferLogs: true },
      configure: (host) => host.useLogger(host.get(Logger)),
    }));
  });
  afterAll(async () => {
    await app.close();
  });

  const rawLine = async (marker: string): Promise<string> => {
    await waitUntil(() => lines.some((line) => line.includes(marker)), `a line with ${marker}`);
    return lines.find((line) => line.includes(marker)) ?? '';
  };

  it('writes the step name as the only msg and the class name as context', async () => {
    await app.get(ThreadRegistryService).registerThread('t-logging', 'u-logging');
    const raw = await rawLine('t-logging');
    expect(msgValues(raw)).toEqual(['thread registered']);
    expect(JSON.parse(raw)).toMatchObject({
      msg: 'thread registered',
      context: 'ThreadRegistryService',
      threadId: 't-logging',
      userId: 'u-logging',
    });
  });

  it('does the same for a refused HTTP request (warn)', async () => {
    const url = await app.getUrl();
    const response = await fetch(`${url}/threads/t-refused/messages`, {
      headers: { authorization: 'Bearer not-a-jwt' },
    });
    expect(response.status).toBe(401);
    const raw = await rawLine('http request refused');
    expect(msgValues(raw)).toEqual(['http request refused']);
    expect(JSON.parse(raw)).toMatchObject({ level: 40, context: 'HttpUserAuth' });
  });

  it('does the same for warn and error lines of any RelayLogger', async () => {
    const log = new RelayLogger('LoggingProbe');
    log.warn({ msg: 'probe warned', probe: 'p-warn' });
    log.error({ msg: 'probe failed', probe: 'p-error' }, new Error('boom'));
    const warned = await rawLine('p-warn');
    const failed = await rawLine('p-error');
    expect(msgValues(warned)).toEqual(['probe warned']);
    expect(msgValues(failed)).toEqual(['probe failed']);
    expect(JSON.parse(warned)).toMatchObject({ level: 40, context: 'LoggingProbe' });
    expect(JSON.parse(failed)).toMatchObject({
      level: 50,
      context: 'LoggingProbe',
      reason: 'Error: boom',
    });
  });
});

describe('module log lines with a custom logger option', () => {
  it('passes the class name as the context argument', async () => {
    const calls: unknown[][] = [];
    const record =
      () =>
      (...args: unknown[]) =>
        calls.push(args);
    const custom: LoggerService = { log: record(), warn: record(), error: record() };
    const relay = await startRelayApp({ logger: custom });
    try {
      await relay.registry.registerThread('t-custom', 'u-custom');
      expect(calls).toContainEqual([
        { msg: 'thread registered', threadId: 't-custom', userId: 'u-custom' },
        'ThreadRegistryService',
      ]);
    } finally {
      await relay.close();
    }
  });
});
