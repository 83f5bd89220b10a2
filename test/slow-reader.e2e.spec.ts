/**
 * A client that stops reading must not make the server buffer without bound.
 *
 * The attacker fills its own thread with 60 events of ~30 KB, stops reading its TCP socket
 * and sends 300 `thread:join { lastSeq: 0 }`, each of which replays the whole thread
 * (~1.8 MB). The relay runs in a child process so its RSS is measured alone; it is sampled
 * every 250 ms for 10 s while a second user keeps joining its own thread and sending
 * messages. Expected: the server's memory stays bounded, the attacker's connection is cut
 * within the stall timeout, other users are served meanwhile, and the server is still up.
 *
 * The fix's options are passed to the child as they are; a server without them ignores
 * them (and fails this spec).
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import type { Socket } from 'socket.io-client';
import { signUserToken, type Ack, type JoinResult, type ThreadEvent } from '../src/index.js';
import { RawSocketIoClient } from './support/raw-socketio-client.js';
import {
  backendModes,
  connectSocket,
  TEST_JWT_SECRET,
  type TestRelayOptions,
} from './support/relay-app.js';
import { spawnRelayChild, type RelayChild } from './support/relay-child-process.js';
import { buildRelayChild } from './support/child-build.js';

/**
 * The fix's options. The same change adds rate limits that this spec's own traffic would
 * trip with their defaults: 300 joins at once exceed the per-connection event bucket (which
 * refuses, then cuts a flood: that would bound memory too, but by another path than the
 * one under test), and 60 + ~50 messages exceed the per-user message bucket. Both are
 * raised so that only the join limit and the backpressure decide.
 */
const FIX_OPTIONS = {
  limits: {
    concurrentJoinsPerConnection: 4,
    clientEvents: { perSecond: 1000, burst: 1000 },
    userMessages: { perMinute: 6000, burst: 1000 },
  },
  backpressure: {
    highWaterBytes: 256 * 1024,
    maxBufferedBytes: 2 * 1024 * 1024,
    stallTimeoutMs: 5000,
  },
} satisfies TestRelayOptions;

const MESSAGES = 60;
const MESSAGE_CHARS = 30_000;
const JOINS = 300;
/** How long the attack is watched (RSS sampled, the normal user served). */
const WINDOW_MS = 10_000;
const SAMPLE_EVERY_MS = 250;
/** The normal user starts a round (join + message) at most this often. */
const ROUND_EVERY_MS = 200;
/** Each of the normal user's acks and events must arrive within this. */
const SERVE_BOUND_MS = 2000;
/** The stall timeout plus 3 s for the server's check interval and a loaded machine. */
const CUT_BOUND_MS = FIX_OPTIONS.backpressure.stallTimeoutMs + 3000;
/**
 * Bound on the child's RSS growth over the baseline. What the fix lets the server hold for
 * the attacker: up to maxBufferedBytes (2 MB) in its write buffer, plus, for each of the
 * concurrentJoinsPerConnection (4) joins in flight, the replay page it has read (the whole
 * thread: 60 x 30 KB = 1.8 MB as event objects, about twice that in Redis mode with the raw
 * reply), so about 2 + 4 x 3.6 = 16 MB live; the rejected joins cost an ack each. The rest
 * of the bound is headroom for V8, which grows its heap ahead of the live data and returns
 * pages late, and for the normal user's traffic. Measured with the fix: 0-15 MB in memory,
 * 8-18 MB with Redis; without it 510-533 MB and 436-720 MB. 64 MB is 4x the live data and
 * 7-10x below what an unbounded server reaches for these 300 joins.
 */
const GROWTH_BOUND_MB = 64;
/** The child is killed above this, so a failing run leaves the machine healthy. */
const RSS_KILL_BYTES = 3 * 1024 ** 3;

const MB = 1024 * 1024;
const toMb = (bytes: number) => Math.round(bytes / MB);

/** VmRSS of `pid` in bytes, from /proc/<pid>/status; null once the process is gone. */
function readRss(pid: number): number | null {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match?.[1] ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Samples the child's RSS on an interval, keeps the peak, kills the child above the cap. */
class RssSampler {
  peak = 0;
  /** The latest sample. */
  last = 0;
  samples = 0;
  killedForMemory = false;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly child: RelayChild) {
    this.timer = setInterval(() => this.sample(), SAMPLE_EVERY_MS);
    this.sample();
  }

  stop(): void {
    clearInterval(this.timer);
    this.sample();
  }

  private sample(): void {
    const pid = this.child.process.pid;
    const rss = pid === undefined ? null : readRss(pid);
    if (rss === null) return;
    this.samples += 1;
    this.last = rss;
    this.peak = Math.max(this.peak, rss);
    if (rss > RSS_KILL_BYTES && !this.killedForMemory) {
      this.killedForMemory = true;
      void this.child.kill();
    }
  }
}

/** A well-behaved user on socket.io-client: joins its thread and sends messages into it. */
class NormalUser {
  /** Latency of each message: `user:message` sent -> its `thread:event` received. */
  readonly latencies: number[] = [];
  readonly misses: string[] = [];
  private lastSeq = 0;
  private epoch: string | undefined;
  private readonly arrivals = new Map<string, () => void>();

  constructor(
    private readonly socket: Socket,
    private readonly threadId: string,
  ) {
    socket.on('thread:event', (event: ThreadEvent) => {
      if (event.epoch !== this.epoch || event.seq > this.lastSeq) {
        this.epoch = event.epoch;
        this.lastSeq = event.seq;
      }
      const payload = event.payload as { clientMessageId?: unknown } | null;
      if (typeof payload?.clientMessageId === 'string') {
        this.arrivals.get(payload.clientMessageId)?.();
      }
    });
  }

  /** One round: a join, then a message whose `thread:event` must arrive, each within `boundMs`. */
  async round(label: string, boundMs = SERVE_BOUND_MS): Promise<void> {
    try {
      const joined = (await this.socket.timeout(boundMs).emitWithAck('thread:join', {
        threadId: this.threadId,
        lastSeq: this.lastSeq,
        epoch: this.epoch,
      })) as Ack<JoinResult>;
      if (!joined.ok) throw new Error(`join refused: ${joined.error.code}`);
      this.epoch ??= joined.epoch;
      const clientMessageId = `normal-${label}`;
      const sentAt = Date.now();
      await Promise.all([
        this.arrival(clientMessageId, boundMs),
        this.socket
          .timeout(boundMs)
          .emitWithAck('user:message', { threadId: this.threadId, text: label, clientMessageId })
          .then((ack: Ack) => {
            if (!ack.ok) throw new Error(`message refused: ${ack.error.code}`);
          }),
      ]);
      this.latencies.push(Date.now() - sentAt);
    } catch (error) {
      this.misses.push(`${label}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  private arrival(clientMessageId: string, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.arrivals.delete(clientMessageId);
        reject(new Error(`no thread:event for ${clientMessageId} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.arrivals.set(clientMessageId, () => {
        clearTimeout(timer);
        this.arrivals.delete(clientMessageId);
        resolve();
      });
    });
  }
}

describe.each(backendModes('slow-reader'))('a client that stops reading (%s)', (mode, config) => {
  let child: RelayChild | undefined;
  let attacker: RawSocketIoClient | undefined;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    const entry = await buildRelayChild();
    child = await spawnRelayChild(entry, { ...config(), ...FIX_OPTIONS });
  }, 120_000);

  afterAll(async () => {
    for (const socket of sockets.splice(0)) socket.close();
    await attacker?.close();
    await child?.kill();
  }, 30_000);

  it('keeps the server’s memory bounded, cuts the slow connection and serves other users meanwhile', async () => {
    const relay = child!;
    const pid = relay.process.pid!;
    const token = (userId: string) => signUserToken(userId, TEST_JWT_SECRET);

    // The attacker fills its own thread while still reading.
    const threadId = `slow-${mode}-${randomBytes(4).toString('hex')}`;
    const raw = await RawSocketIoClient.connect(relay.url, await token(`attacker-${mode}`));
    attacker = raw;
    expect(await raw.emitWithAck('thread:join', { threadId })).toMatchObject({ ok: true });
    const stored = await Promise.all(
      Array.from({ length: MESSAGES }, (_, i) =>
        raw.emitWithAck(
          'user:message',
          {
            threadId,
            text: randomBytes(MESSAGE_CHARS / 2).toString('hex'),
            clientMessageId: `attack-${i}`,
          },
          30_000,
        ),
      ),
    );
    expect(stored.filter((ack) => (ack as Ack).ok)).toHaveLength(MESSAGES);
    await raw.waitForThreadEvents(MESSAGES);

    const normalSocket = await connectSocket(relay.url, await token(`reader-${mode}`));
    sockets.push(normalSocket);
    const normal = new NormalUser(normalSocket, `calm-${mode}-${randomBytes(4).toString('hex')}`);
    await normal.round('warm-up');
    expect(normal.misses).toEqual([]);

    const baseline = readRss(pid);
    if (baseline === null) throw new Error('the relay child is gone');

    // The attack: stop reading, then ask for the whole thread 300 times.
    raw.pauseReading();
    const attackStarted = Date.now();
    for (let i = 0; i < JOINS; i += 1) {
      void raw.emitWithAck('thread:join', { threadId, lastSeq: 0 }, 120_000).catch(() => undefined);
    }
    const sampler = new RssSampler(relay);
    const windowEnd = attackStarted + WINDOW_MS;
    try {
      for (let n = 0; Date.now() < windowEnd; n += 1) {
        const roundStarted = Date.now();
        await normal.round(`during-${n}`);
        const next = Math.min(roundStarted + ROUND_EVERY_MS, windowEnd);
        if (next > Date.now()) await sleep(next - Date.now());
      }
    } finally {
      sampler.stop();
    }
    const cut = raw.isClosed ? await raw.closed : null;
    const cutMs = cut?.byServer ? cut.at - attackStarted : null;
    if (!cut) await raw.close();

    // Afterwards: the process is up and a new connection is served.
    const alive = relay.process.exitCode === null && relay.process.signalCode === null;
    let servedAfter = false;
    if (alive) {
      const laterSocket = await connectSocket(relay.url, await token(`later-${mode}`));
      sockets.push(laterSocket);
      const later = new NormalUser(laterSocket, `after-${mode}-${randomBytes(4).toString('hex')}`);
      await later.round('after', 5000);
      servedAfter = later.misses.length === 0;
    }

    const growth = sampler.peak - baseline;
    const maxLatency = Math.max(0, ...normal.latencies);
    // eslint-disable-next-line no-console -- the measured numbers are the point of this spec
    console.log(
      `[slow-reader ${mode}] baseline RSS ${toMb(baseline)} MB, peak ${toMb(sampler.peak)} MB, ` +
        `growth ${toMb(growth)} MB (bound ${GROWTH_BOUND_MB} MB; ${toMb(sampler.last)} MB at the end, ` +
        `${sampler.samples} samples` +
        `${sampler.killedForMemory ? ', child killed above 3 GB' : ''}); attacker cut: ` +
        `${cutMs === null ? 'no' : `after ${cutMs} ms`} (bound ${CUT_BOUND_MS} ms, socket error ` +
        `${cut?.error ?? 'none'}); attacker received ${raw.threadEvents} thread:event; normal ` +
        `user: ${normal.latencies.length} rounds served, max latency ${maxLatency} ms, ` +
        `${normal.misses.length} missed; server alive ${alive}, served after ${servedAfter}`,
    );

    const violations: string[] = [];
    if (growth > GROWTH_BOUND_MB * MB) {
      violations.push(`RSS grew by ${toMb(growth)} MB, over the ${GROWTH_BOUND_MB} MB bound`);
    }
    if (cutMs === null) {
      violations.push(`the attacker's connection was not cut within ${WINDOW_MS} ms`);
    } else if (cutMs > CUT_BOUND_MS) {
      violations.push(`the attacker's connection was cut after ${cutMs} ms > ${CUT_BOUND_MS} ms`);
    }
    if (normal.misses.length > 0) {
      violations.push(`the normal user was not served in time: ${normal.misses.join('; ')}`);
    }
    if (normal.latencies.length < WINDOW_MS / ROUND_EVERY_MS / 4) {
      violations.push(`the normal user got only ${normal.latencies.length} rounds served`);
    }
    if (!alive) violations.push('the server process died');
    else if (!servedAfter) violations.push('the server did not serve a new connection afterwards');
    expect(violations).toEqual([]);
  }, 90_000);
});
