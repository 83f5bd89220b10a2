/**
 * The reconnect scenario of the in-server section: a group of clients goes away, the first
 * server sends each of their threads a burst, and they all come back at once (on the next
 * instance when there are several), thread-relay clients with their cursors.
 */
import type { Config } from './cli.js';
import { nextStep } from './measure-step.js';
import type { RpcChild } from './rpc.js';
import { connectGroup, specs, waitForConnections, type Servers } from './servers-and-clients.js';
import { round } from './stats.js';
import { isRelay, type Mode } from './common.js';

export interface ReconnectResult {
  clients: number;
  eventsPerClient: number;
  expectedEvents: number;
  deliveredEvents: number;
  lostEvents: number;
  /** From the first reconnect until every client had all its missed events (relay) or joined (plain). */
  ms: number;
  /** Until every client's join was answered. */
  joinedMs: number;
  finished: boolean;
  failed: number;
  burstMs: number;
  movedInstance: boolean;
}

export async function reconnectTest(
  mode: Mode,
  tag: string,
  servers: Servers,
  clients: RpcChild,
  reconnect: Config['reconnect'],
): Promise<ReconnectResult> {
  const { clients: count, eventsPerClient } = reconnect;
  const list = specs('replay', count, servers.urls);
  await connectGroup(clients, 'replay', list);
  await waitForConnections(servers, count);
  await clients.call('disconnect', { group: 'replay' });
  await waitForConnections(servers, 0);
  const burst = await (servers.procs[0] as RpcChild).call<{
    sent: number;
    errors: number;
    ms: number;
  }>(
    'burst',
    {
      step: nextStep(),
      threads: list.map((c) => c.threadId),
      perThread: eventsPerClient,
      concurrency: 256,
    },
    300_000,
  );
  if (burst.errors > 0) throw new Error(`${burst.errors} sends of the burst failed`);
  // With several instances every client comes back on the next one.
  const urlMap: Record<string, string> = {};
  servers.urls.forEach((url, i) => {
    if (servers.urls.length > 1)
      urlMap[url] = servers.urls[(i + 1) % servers.urls.length] as string;
  });
  const relay = isRelay(mode);
  const r = await clients.call<{
    ms: number;
    joinedMs: number;
    finished: boolean;
    caughtUp: number;
    failed: number;
    firstError: string | null;
    events: number;
  }>(
    'reconnect',
    { group: 'replay', expect: relay ? eventsPerClient : 0, urlMap, timeoutMs: 120_000 },
    180_000,
  );
  if (r.failed > 0) console.log(`  [${tag}] reconnect: ${r.failed} failed: ${r.firstError}`);
  await clients.call('forget', { group: 'replay' });
  const expectedEvents = count * eventsPerClient;
  const result: ReconnectResult = {
    clients: count,
    eventsPerClient,
    expectedEvents,
    deliveredEvents: r.events,
    lostEvents: expectedEvents - r.events,
    ms: round(r.ms, 0),
    joinedMs: round(r.joinedMs, 0),
    finished: r.finished,
    failed: r.failed,
    burstMs: round(burst.ms, 0),
    movedInstance: servers.urls.length > 1,
  };
  console.log(
    `  [${tag}] reconnect ${count} clients + replay ${eventsPerClient} each: ${result.ms} ms ` +
      `(all joined ${result.joinedMs} ms), delivered ${r.events}/${expectedEvents}`,
  );
  return result;
}
