import { ThreadRelayClient, type ThreadEvent } from '../../src/client/index.js';
import { signUserToken } from '../../src/index.js';
import { makeRunId } from '../../src/ids.js';
import { sendViaInstance } from '../support/debug-send.js';
import { TEST_JWT_SECRET } from '../support/relay-app.js';
import { waitUntil } from '../support/wait-until.js';
import { spawnRelayCluster, type RelayChild } from '../support/relay-child-process.js';

const SHARED_THREAD = 'team-chat';
const SHARED_RUNS = 5;
const EVENTS_PER_SHARED_RUN = 40;
const SOLO_THREADS = 50;
const EVENTS_PER_SOLO_RUN = 20;

interface Run {
  runId: string;
  threadId: string;
  events: number;
  instance: string;
}

/**
 * Many agents at once, each in its own run, producing on both instances: five runs
 * interleaving on one thread and fifty threads streaming side by side. Per thread the
 * app must see 1..N exactly once, and each run's events in the order the run sent them.
 */
describe('concurrent agent runs across two instances', () => {
  const instances: RelayChild[] = [];
  const clients: ThreadRelayClient[] = [];

  beforeAll(async () => {
    instances.push(
      ...(await spawnRelayCluster(2, 'concurrent', { history: { maxPerThread: 5000 } })),
    );
  }, 120_000);

  afterAll(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await Promise.all(instances.splice(0).map((child) => child.kill()));
  });

  async function watch(instance: RelayChild, userId: string, threadId: string) {
    const client = new ThreadRelayClient({
      url: instance.url,
      token: () => signUserToken(userId, TEST_JWT_SECRET),
      socketOptions: { transports: ['websocket'] },
    });
    clients.push(client);
    const events: ThreadEvent[] = [];
    client.onEvent((event) => events.push(event));
    await client.connect();
    await client.join(threadId);
    return events;
  }

  it('keeps every thread dense and every run in its own order', async () => {
    const [a, b] = [instances[0]!, instances[1]!];
    // Two tabs on the shared thread, one per instance; each solo thread watched from one instance.
    const sharedViews = [
      await watch(a, 'team', SHARED_THREAD),
      await watch(b, 'team', SHARED_THREAD),
    ];
    const soloViews = new Map<string, ThreadEvent[]>();
    for (let t = 0; t < SOLO_THREADS; t += 1) {
      const threadId = `solo-${t}`;
      soloViews.set(threadId, await watch(t % 2 ? a : b, `user-${t}`, threadId));
    }

    const runs: Run[] = [];
    for (let r = 0; r < SHARED_RUNS; r += 1) {
      runs.push({
        runId: makeRunId(SHARED_THREAD),
        threadId: SHARED_THREAD,
        events: EVENTS_PER_SHARED_RUN,
        instance: (r % 2 ? a : b).url,
      });
    }
    for (let t = 0; t < SOLO_THREADS; t += 1) {
      const threadId = `solo-${t}`;
      runs.push({
        runId: makeRunId(threadId),
        threadId,
        events: EVENTS_PER_SOLO_RUN,
        instance: (t % 2 ? b : a).url,
      });
    }

    // Every run at once; within a run each event waits for the previous receipt, as an agent loop does.
    const acked = new Map<string, number[]>();
    await Promise.all(
      runs.map(async (run) => {
        const seqs: number[] = [];
        acked.set(run.runId, seqs);
        for (let i = 0; i < run.events; i += 1) {
          const receipt = await sendViaInstance(
            run.instance,
            { runId: run.runId },
            'assistant_message',
            { run: run.runId, i },
          );
          expect(receipt.threadId).toBe(run.threadId);
          seqs.push(receipt.seq);
        }
      }),
    );

    const sharedTotal = SHARED_RUNS * EVENTS_PER_SHARED_RUN;
    const total = sharedTotal + SOLO_THREADS * EVENTS_PER_SOLO_RUN;
    const seen = () =>
      sharedViews.reduce((n, v) => n + v.length, 0) +
      [...soloViews.values()].reduce((n, v) => n + v.length, 0);
    await waitUntil(
      () => seen() >= 2 * sharedTotal + (total - sharedTotal),
      `${total} events at the apps`,
      30_000,
    );

    const check = (events: ThreadEvent[], threadId: string, count: number) => {
      expect(events.every((e) => e.threadId === threadId)).toBe(true);
      expect(events.map((e) => e.seq)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
      // Each run's own events keep the order the run sent them, interleaved with the others.
      const byRun = new Map<string, number[]>();
      for (const event of events) {
        expect(event.runId).toBe((event.payload as { run: string }).run);
        byRun.set(event.runId!, [
          ...(byRun.get(event.runId!) ?? []),
          (event.payload as { i: number }).i,
        ]);
      }
      for (const [runId, order] of byRun) {
        expect([runId, order]).toEqual([runId, Array.from({ length: order.length }, (_, i) => i)]);
        expect(events.filter((e) => e.runId === runId).map((e) => e.seq)).toEqual(acked.get(runId));
      }
      return byRun.size;
    };
    for (const view of sharedViews)
      expect(check(view, SHARED_THREAD, sharedTotal)).toBe(SHARED_RUNS);
    for (const [threadId, view] of soloViews)
      expect(check(view, threadId, EVENTS_PER_SOLO_RUN)).toBe(1);
    // The runs really interleaved on the shared thread rather than taking turns.
    const switches = sharedViews[0]!.filter(
      (e, i, all) => i > 0 && all[i - 1]!.runId !== e.runId,
    ).length;
    expect(switches).toBeGreaterThan(SHARED_RUNS);
    process.stdout.write(
      `concurrent runs: ${runs.length} runs, ${total} events acked, ${seen()} delivered to ${clients.length} clients; ` +
        `shared thread switched runs ${switches} times; 0 lost, 0 duplicated, 0 out of order\n`,
    );
  }, 120_000);
});
