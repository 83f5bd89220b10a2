import type { Socket } from 'socket.io-client';
import { MESSAGE_LOG, type MessageLog, type ThreadEvent } from '../src/index.js';
import { type ClusterBus } from '../src/cluster/cluster-bus.js';
import { CLUSTER_BUS } from '../src/thread-relay.constants.js';
import { connectSocket } from './support/relay-app.js';
import { useRelayApp } from './support/use-relay-app.js';
import { waitUntil } from './support/wait-until.js';

/**
 * A live event lost on the bus leaves a gap the instance reads from the log. When that read
 * fails for a while (the log's Redis failing over), the instance tries again rather than
 * going on past the gap: a raw socket.io client, which fills nothing itself, still gets
 * every event once, in order.
 */
describe('a live gap whose log read fails for a while', () => {
  let socket: Socket | undefined;

  afterAll(() => {
    socket?.close();
  });
  const relay = useRelayApp();

  it('is filled once the log answers again, not skipped', async () => {
    const threadId = 'gap-read-fails';
    await relay.registry.registerThread(threadId, 'gil');
    socket = await connectSocket(relay.url, await relay.token('gil'));
    const seqs: number[] = [];
    socket.on('thread:event', (event: ThreadEvent) => seqs.push(event.seq));
    await socket.emitWithAck('thread:join', { threadId });

    const bus = relay.app.get<ClusterBus>(CLUSTER_BUS);
    const log = relay.app.get<MessageLog>(MESSAGE_LOG);
    const announce = bus.announceAppended.bind(bus);
    // Seq 2's announcement is lost, as a pub/sub message is while a subscriber moves.
    bus.announceAppended = (event) => {
      if (!(event.threadId === threadId && event.seq === 2)) announce(event);
    };
    const read = log.read.bind(log);
    let failed = 0;
    log.read = (id, afterSeq, limit, maxBytes) => {
      if (id === threadId && failed < 3) {
        failed += 1;
        return Promise.reject(new Error('CLUSTERDOWN The cluster is down'));
      }
      return read(id, afterSeq, limit, maxBytes);
    };

    for (let i = 1; i <= 4; i++) await relay.delivery.sendToThread(threadId, 'tick', { i });
    await waitUntil(() => seqs.length >= 4, 'all four events', 15_000);
    expect(failed).toBe(3);
    expect(seqs).toEqual([1, 2, 3, 4]);
  });
});
