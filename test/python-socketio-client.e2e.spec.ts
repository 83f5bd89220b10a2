import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { MESSAGE_LOG, signUserToken, type MessageLog, type ThreadEvent } from '../src/index.js';
import { startChild, type Child } from './support/child-process.js';
import {
  startRelayApp,
  TEST_JWT_SECRET,
  type RelayApp,
  type TestRelayOptions,
} from './support/relay-app.js';
import { waitUntil } from './support/wait-until.js';
import { testRedisUrl, uniquePrefix } from './support/redis.js';
import { TcpProxy } from './support/tcp-proxy.js';

const SCRIPT = fileURLToPath(new URL('../examples/python/socketio_client.py', import.meta.url));
const INSTALL = 'apt-get install -y python3-socketio python3-websocket';

/**
 * A Python 3 that can import python-socketio (5 or later, for socket.io 4 servers) and
 * websocket-client: `$PYTHON`, else `python3` on PATH, else Debian's `/usr/bin/python3`
 * (where apt puts python3-socketio, also when PATH leads to another Python). Fails, never
 * skips: the example is part of what this repository promises.
 */
function findPython(): string {
  const candidates = [process.env.PYTHON, 'python3', '/usr/bin/python3'].filter(
    (python): python is string => !!python,
  );
  const probe =
    'import importlib.metadata as m, socketio, websocket; print(m.version("python-socketio"))';
  const tried: string[] = [];
  for (const python of new Set(candidates)) {
    const run = spawnSync(python, ['-c', probe], { encoding: 'utf8' });
    const version = run.stdout?.trim() ?? '';
    if (!run.error && run.status === 0 && Number(version.split('.')[0]) >= 5) return python;
    const why =
      run.error?.message ??
      (run.status === 0
        ? `python-socketio ${version} is older than 5`
        : run.stderr.trim().split('\n').at(-1));
    tried.push(`${python}: ${why}`);
  }
  throw new Error(
    `examples/python/socketio_client.py needs python-socketio (>= 5) and websocket-client, and ` +
      `no Python here imports them (${tried.join('; ')}). Install them with: ${INSTALL} ` +
      `(Debian/Ubuntu, for /usr/bin/python3; elsewhere: pip install "python-socketio[client]"), ` +
      `or point PYTHON at an interpreter that has them; then run the tests again.`,
  );
}

type Line = { kind: string } & Record<string, unknown>;

/** One run of the example: its stdout lines (JSON, one per line) as they arrive. */
class ExampleRun {
  readonly lines: Line[] = [];
  private readonly child: Child;
  private partial = '';
  private garbage: string[] = [];

  constructor(python: string, args: string[]) {
    this.child = startChild(python, [SCRIPT, ...args]);
    // Parsed as it arrives, once: tests compare the line objects by identity.
    this.child.process.stdout?.on('data', (chunk: Buffer) => this.read(chunk.toString('utf8')));
  }

  get stderr(): string {
    return this.child.stderr();
  }

  /** Thread events printed so far, in the order printed. */
  get events(): ThreadEvent[] {
    return this.lines.filter((l) => l.kind === 'event').map((l) => l.event as ThreadEvent);
  }

  of(kind: string): Line[] {
    return this.lines.filter((line) => line.kind === kind);
  }

  /** Waits for the exit; fails with what the script said unless it exited with `expected`. */
  async finished(expected = 0): Promise<void> {
    const code = await this.child.exited;
    const spawnError = this.child.spawnError();
    if (spawnError) throw spawnError;
    if (this.garbage.length > 0) {
      throw new Error(
        `socketio_client.py printed lines that are not JSON: ${this.garbage.join('\n')}`,
      );
    }
    if (code !== expected) {
      throw new Error(
        `socketio_client.py exited with ${code}, expected ${expected}\n` +
          `stdout: ${this.lines.map((l) => JSON.stringify(l)).join('\n')}\nstderr: ${this.stderr}`,
      );
    }
  }

  kill(): void {
    void this.child.kill();
  }

  private read(text: string): void {
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop() ?? '';
    for (const part of parts) {
      if (part.trim() === '') continue;
      try {
        this.lines.push(JSON.parse(part) as Line);
      } catch {
        this.garbage.push(part);
      }
    }
  }
}

const seqs = (events: ThreadEvent[]) => events.map((event) => event.seq);
const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe.each([
  ['memory', 1, (): TestRelayOptions => ({})],
  [
    'redis',
    2,
    (): TestRelayOptions => ({ redis: testRedisUrl(), keyPrefix: uniquePrefix('pysio') }),
  ],
])('examples/python/socketio_client.py (%s, %i instance(s))', (_mode, instances, config) => {
  let python: string;
  let apps: RelayApp[] = [];
  let proxy: TcpProxy | undefined;
  const runs: ExampleRun[] = [];

  beforeAll(() => {
    python = findPython();
  });

  /** Starts the instances, and the proxy (round-robin over them) that can cut the client. */
  async function boot(extra: TestRelayOptions = {}): Promise<void> {
    const options = { ...config(), ...extra };
    for (let i = 0; i < instances; i++) apps.push(await startRelayApp(options));
    proxy = await TcpProxy.balance(apps.map((app) => Number(new URL(app.url).port)));
  }

  afterEach(async () => {
    for (const run of runs.splice(0)) run.kill();
    await proxy?.close();
    proxy = undefined;
    await Promise.all(apps.map((app) => app.close()));
    apps = [];
  });

  /** Producer side: the last instance (with 2, not the one the client first lands on). */
  const producer = () => apps[apps.length - 1]!;

  async function start(threadId: string, userId: string, extra: string[]): Promise<ExampleRun> {
    const token = await signUserToken(userId, TEST_JWT_SECRET);
    const run = new ExampleRun(python, [
      '--url',
      proxy!.url,
      '--token',
      token,
      '--thread-id',
      threadId,
      '--timeout-s',
      '40',
      ...extra,
    ]);
    runs.push(run);
    return run;
  }

  async function send(threadId: string, from: number, count: number, pad = ''): Promise<void> {
    // Five at a time: the log orders concurrent sends; the client must print them by seq.
    for (let n = from; n < from + count; n += 5) {
      const batch = range(n, Math.min(n + 4, from + count - 1));
      await Promise.all(
        batch.map((i) =>
          producer().delivery.sendToThread(threadId, 'assistant_message', { n: i, pad }),
        ),
      );
    }
  }

  async function newThread(events: number, pad = ''): Promise<string> {
    const threadId = `py-sio-${randomUUID().slice(0, 8)}`;
    await producer().registry.registerThread(threadId, 'alice');
    await send(threadId, 1, events, pad);
    return threadId;
  }

  it('prints the replay, then live events and those sent while it was cut off: each once, in seq order, acked', async () => {
    await boot();
    const threadId = await newThread(5);
    const run = await start(threadId, 'alice', ['--exit-after', '45']);

    await waitUntil(() => run.events.length >= 5, 'the replay of the first 5 events');
    expect(run.of('joined')[0]).toMatchObject({ threadId, headSeq: 5, replayed: 5 });
    await send(threadId, 6, 20);
    await waitUntil(() => run.events.length >= 25, '20 live events');

    // A network failure neither side chose: the client reconnects (to the other instance
    // with two) and joins again from its cursor; what was sent meanwhile is replayed.
    proxy!.cutAll();
    await send(threadId, 26, 20);
    await run.finished(0);

    const events = run.events;
    expect(seqs(events)).toEqual(range(1, 45));
    expect(new Set(events.map((e) => e.id)).size).toBe(45);
    expect(new Set(events.map((e) => (e.payload as { n: number }).n))).toEqual(
      new Set(range(1, 45)),
    );
    const [joined] = run.of('joined');
    expect(new Set(events.map((e) => e.epoch))).toEqual(new Set([joined!.epoch]));
    expect(events.every((e) => typeof e.ts === 'number' && e.ts > 1.5e12)).toBe(true); // epoch ms
    expect(run.of('joined').length).toBeGreaterThanOrEqual(2);
    expect(run.stderr).toContain(`"lastSeq": 25, "epoch": "${String(joined!.epoch)}"`);
    expect(run.of('reset')).toEqual([]);
    expect(run.lines.at(-1)).toEqual({
      kind: 'cursor',
      threadId,
      epoch: joined!.epoch,
      lastSeq: 45,
    });
    // The last ack asked for its answer before the exit: the owner's cursor is at 45.
    await expect(producer().delivery.waitForDelivery(threadId, 45, 5_000)).resolves.toBe(45);
  }, 60_000);

  it('resumes from a cursor, and after thread:reset reloads the log over REST and goes on after it', async () => {
    await boot();
    const threadId = await newThread(6);
    const epoch = (await producer().delivery.history(threadId, 0, 1)).epoch;

    const resumed = await start(threadId, 'alice', [
      ...['--last-seq', '4', '--epoch', epoch, '--exit-after', '2'],
    ]);
    await resumed.finished(0);
    expect(resumed.of('joined')).toEqual([
      { kind: 'joined', threadId, epoch, headSeq: 6, replayed: 2 },
    ]);
    expect(seqs(resumed.events)).toEqual([5, 6]);

    // A cursor of another log: the relay answers thread:reset instead of replaying.
    const stale = await start(threadId, 'alice', [
      ...['--last-seq', '2', '--epoch', '0123456789abcdef', '--exit-after', '8'],
    ]);
    await waitUntil(() => stale.of('reset').length > 0, 'thread:reset');
    await send(threadId, 7, 2);
    await stale.finished(0);
    // Nothing of the stale cursor's is shown: the reset comes first, then the reloaded log.
    const kinds = stale.lines.map((line) => line.kind).filter((kind) => kind !== 'session');
    expect(kinds.indexOf('reset')).toBeLessThan(kinds.indexOf('event'));
    expect(stale.of('reset')).toHaveLength(1);
    expect(stale.of('joined')[0]).toMatchObject({ replayed: 0, reset: 'epoch_mismatch' });
    // It joins again from the reloaded cursor (needless here, see the next test).
    expect(stale.stderr).toContain(`"lastSeq": 6, "epoch": "${epoch}"`);
    expect(stale.of('reset')[0]).toEqual({
      kind: 'reset',
      threadId,
      epoch,
      headSeq: 6,
      reason: 'epoch_mismatch',
      events: 6,
    });
    // The reloaded log (1..6) replaces what was shown; live events continue after it.
    expect(seqs(stale.events)).toEqual(range(1, 8));

    // A cursor past the head of this very log: ahead_of_log.
    const ahead = await start(threadId, 'alice', [
      ...['--last-seq', '99', '--epoch', epoch, '--exit-after', '8'],
    ]);
    await ahead.finished(0);
    expect(ahead.of('reset')).toEqual([
      { kind: 'reset', threadId, epoch, headSeq: 8, reason: 'ahead_of_log', events: 8 },
    ]);
    expect(seqs(ahead.events)).toEqual(range(1, 8));
  }, 60_000);

  it('joins again after a thread:reset in the middle of a replay, and so gets the new log live', async () => {
    // A slow log-read budget makes the replay wait between pages; the log is replaced
    // meanwhile. The relay then sends thread:reset and ends the replay without switching
    // the connection to live events: the client must join again from its new cursor.
    await boot({ limits: { readBytes: { perSecond: 2000, burst: 2000 } } });
    const threadId = await newThread(20, 'x'.repeat(400));
    const old = (await producer().delivery.history(threadId, 0, 1)).epoch;
    const run = await start(threadId, 'alice', []);
    await waitUntil(() => run.events.length > 0, 'the replay to start');
    await producer().app.get<MessageLog>(MESSAGE_LOG).drop(threadId);
    const fresh = await producer().delivery.sendToThread(threadId, 'assistant_message', { n: 1 });
    expect(fresh).toMatchObject({ seq: 1 });
    await waitUntil(() => run.of('joined').length >= 2, 'the join after the reset');
    await send(threadId, 2, 2);
    await waitUntil(
      () => run.events.some((e) => e.epoch === fresh.epoch && e.seq === 3),
      'the new log live',
    );

    const [reset] = run.of('reset');
    expect(reset).toMatchObject({ reason: 'epoch_mismatch', epoch: fresh.epoch, headSeq: 1 });
    const before = run.lines.indexOf(reset!);
    const oldEvents = run.lines.slice(0, before).filter((l) => l.kind === 'event');
    expect(oldEvents.length).toBeLessThan(20); // the replay was cut short by the reset
    expect(oldEvents.map((l) => (l.event as ThreadEvent).epoch)).toEqual(oldEvents.map(() => old));
    expect(seqs(oldEvents.map((l) => l.event as ThreadEvent))).toEqual(range(1, oldEvents.length));
    const after = run.lines.slice(before).filter((l) => l.kind === 'event');
    expect(after.map((l) => (l.event as ThreadEvent).epoch)).toEqual([
      fresh.epoch,
      fresh.epoch,
      fresh.epoch,
    ]);
    expect(seqs(after.map((l) => l.event as ThreadEvent))).toEqual([1, 2, 3]);
    expect(run.of('joined')[1]).toMatchObject({ epoch: fresh.epoch, replayed: 0 });
  }, 60_000);

  it('exits 1 with the reason when the join is refused', async () => {
    await boot();
    const threadId = await newThread(1);
    const run = await start(threadId, 'mallory', ['--exit-after', '1']);
    await run.finished(1);
    expect(run.events).toEqual([]);
    expect(run.stderr).toContain('"code": "FORBIDDEN"');
  }, 60_000);
});
