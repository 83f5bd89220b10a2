import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Socket } from 'socket.io-client';
import type { ThreadEvent } from '../src/index.js';
import { runChild } from './support/child-process.js';
import { PRODUCER_KEY } from './support/producer-http.js';
import { requirePython } from './support/python-probe.js';
import {
  connectSocket,
  startRelayApp,
  type RelayApp,
  type TestRelayOptions,
} from './support/relay-app.js';
import { waitUntil } from './support/wait-until.js';

const SCRIPT = fileURLToPath(new URL('../examples/python/producer.py', import.meta.url));
const RUN_TYPES = [
  'agent_started',
  'tool_executing',
  'tool_completed',
  ...Array<string>(8).fill('assistant_message'),
  'agent_completed',
];

interface ScriptRun {
  code: number | null;
  lines: Array<Record<string, unknown>>;
  stderr: string;
}

async function runProducer(relay: RelayApp, userId: string, threadId: string): Promise<ScriptRun> {
  const { code, stdout, stderr } = await runChild(
    'python3',
    [SCRIPT, '--user', userId, '--thread', threadId, '--wait-ms', '20000'],
    { env: { ...process.env, RELAY_URL: relay.url, RELAY_PRODUCER_KEY: PRODUCER_KEY } },
  );
  try {
    const lines = stdout
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    return { code, lines, stderr };
  } catch (error) {
    throw new Error(`producer.py printed a line that is not JSON: ${String(error)}\n${stdout}`, {
      cause: error,
    });
  }
}

describe('examples/python/producer.py against a real relay', () => {
  const sockets: Socket[] = [];
  let relay: RelayApp | undefined;

  beforeAll(() => requirePython('examples/python/producer.py'));
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.close();
    await relay?.close();
    relay = undefined;
  });

  /** A client of the user joined to the thread, acking every event as the SDK does. */
  async function client(app: RelayApp, userId: string, threadId: string): Promise<ThreadEvent[]> {
    const socket = await connectSocket(app.url, await app.token(userId));
    sockets.push(socket);
    const events: ThreadEvent[] = [];
    socket.on('thread:event', (event: ThreadEvent) => {
      events.push(event);
      void socket.emitWithAck('thread:ack', { threadId, seq: event.seq });
    });
    expect(await socket.emitWithAck('thread:join', { threadId })).toMatchObject({ ok: true });
    return events;
  }

  async function streamRun(options: TestRelayOptions): Promise<ScriptRun> {
    relay = await startRelayApp({ producer: { apiKeys: [PRODUCER_KEY] }, ...options });
    const userId = 'pat';
    const threadId = `py-thread-${randomUUID().slice(0, 8)}`;
    const events = await client(relay, userId, threadId);

    const run = await runProducer(relay, userId, threadId);
    if (run.code !== 0) {
      throw new Error(
        `producer.py exited with ${run.code}\nstdout: ${JSON.stringify(run.lines)}\nstderr: ${run.stderr}`,
      );
    }
    const receipts = run.lines.filter((line) => line.kind === 'receipt');
    expect(run.lines[0]).toMatchObject({ kind: 'thread', threadId, ownerId: userId });
    const runLine = run.lines[1];
    expect(runLine).toMatchObject({ kind: 'run', threadId, created: true });
    expect(receipts.map((r) => r.type)).toEqual(RUN_TYPES);
    expect(receipts.map((r) => r.seq)).toEqual(RUN_TYPES.map((_, i) => i + 1));
    expect(run.lines.at(-1)).toMatchObject({
      kind: 'delivery',
      threadId,
      seq: RUN_TYPES.length,
      delivered: true,
    });

    // The whole run, once, in order, as the client saw it (the delivery wait ended on its ack).
    await waitUntil(() => events.length >= RUN_TYPES.length, 'the whole run on the client');
    expect(events.map((e) => e.type)).toEqual(RUN_TYPES);
    expect(events.map((e) => e.seq)).toEqual(RUN_TYPES.map((_, i) => i + 1));
    expect(new Set(events.map((e) => e.id)).size).toBe(RUN_TYPES.length);
    expect(events.every((e) => e.runId === runLine?.runId)).toBe(true);
    expect(
      events
        .filter((e) => e.type === 'assistant_message')
        .map((e) => (e.payload as { delta: string }).delta)
        .join(''),
    ).toBe('Sure - here is the weather for Lisbon: 24°C, sunny.');
    return run;
  }

  it('streams a run the user’s client receives exactly once, in order, and sees it delivered', async () => {
    const run = await streamRun({});
    expect(run.stderr).toBe('');
  }, 60_000);

  it('honours 429 Retry-After and still delivers the run exactly once', async () => {
    const run = await streamRun({ limits: { producerRequests: { perSecond: 5, burst: 4 } } });
    const retries = run.stderr
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as { kind: string; status?: number; delay_s?: number });
    expect(retries.length).toBeGreaterThan(0);
    expect(retries.every((r) => r.kind === 'retry' && r.status === 429 && r.delay_s === 1)).toBe(
      true,
    );
  }, 60_000);
});
