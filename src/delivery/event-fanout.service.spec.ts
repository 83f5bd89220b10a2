import type { Namespace } from 'socket.io';
import type { ThreadEvent } from '../protocol.js';
import type { ResolvedRelayOptions } from '../thread-relay.options.js';
import { EventFanoutService } from './event-fanout.service.js';
import { threadRoom } from './rooms.js';

/** Just enough of a socket.io namespace: local room emits and server-side emits are recorded. */
function fakeNamespace(rooms: string[]) {
  const emitted: Array<{ room: string; event: ThreadEvent }> = [];
  const serverSide: Array<{ name: string; args: unknown[] }> = [];
  const listeners = new Map<string, (...args: unknown[]) => void>();
  const nsp = {
    adapter: { rooms: new Map(rooms.map((room) => [room, new Set(['socket-1'])])) },
    local: {
      to: (room: string) => ({
        emit: (_name: string, event: ThreadEvent) => emitted.push({ room, event }),
      }),
    },
    serverSideEmit: (name: string, ...args: unknown[]) => serverSide.push({ name, args }),
    on: (name: string, listener: (...args: unknown[]) => void) => listeners.set(name, listener),
  };
  return { nsp: nsp as unknown as Namespace, emitted, serverSide, listeners };
}

function fanoutFor(redis: boolean): EventFanoutService {
  const options = { redis: { kind: redis ? 'url' : 'none' } } as unknown as ResolvedRelayOptions;
  return new EventFanoutService(options);
}

const event = (threadId: string, seq: number, epoch = 'e1'): ThreadEvent => ({
  id: `${threadId}-${seq}`,
  threadId,
  seq,
  epoch,
  type: 'agent_thinking',
  payload: null,
  ts: 1_000 + seq,
});

const nextImmediate = () => new Promise((resolve) => setImmediate(resolve));

describe('EventFanoutService', () => {
  it('emits to and remembers the head and recent timestamps of threads joined here, per epoch', () => {
    const fanout = fanoutFor(false);
    const { nsp, emitted } = fakeNamespace([threadRoom('t1')]);
    fanout.attach(nsp);
    fanout.publish(event('t1', 1));
    fanout.publish(event('t1', 2));
    // Nobody joined t2 here: neither remembered nor emitted (no packet encoded for nobody).
    fanout.publish(event('t2', 7));
    expect(emitted.map((e) => e.room)).toEqual([threadRoom('t1'), threadRoom('t1')]);
    expect(fanout.sentHead('t1')).toEqual({ epoch: 'e1', head: 2 });
    expect(fanout.recentTimestamp('t1', 2)).toBe(1_002);
    expect(fanout.sentHead('t2')).toBeUndefined();
    expect(fanout.recentTimestamp('t2', 7)).toBeUndefined();
    // Seq 0 never matches the ring's empty slots.
    expect(fanout.recentTimestamp('t1', 0)).toBeUndefined();
    // A new epoch (log recreated) starts over.
    fanout.publish(event('t1', 1, 'e2'));
    expect(fanout.sentHead('t1')).toEqual({ epoch: 'e2', head: 1 });
    expect(fanout.recentTimestamp('t1', 2)).toBeUndefined();
  });

  it('forgets the oldest timestamps beyond the ring', () => {
    const fanout = fanoutFor(false);
    fanout.attach(fakeNamespace([threadRoom('t1')]).nsp);
    for (let seq = 1; seq <= 40; seq++) fanout.publish(event('t1', seq));
    expect(fanout.sentHead('t1')?.head).toBe(40);
    expect(fanout.recentTimestamp('t1', 40)).toBe(1_040);
    expect(fanout.recentTimestamp('t1', 1)).toBeUndefined();
  });

  it('sends what one tick produced to other instances as one batch, in order', async () => {
    const fanout = fanoutFor(true);
    const { nsp, serverSide } = fakeNamespace([]);
    fanout.attach(nsp);
    fanout.publish(event('t1', 1));
    fanout.publish(event('t1', 2));
    fanout.announceDelivered('t1', 'u1', 2, 'e1');
    expect(serverSide).toEqual([]);
    await nextImmediate();
    expect(serverSide.map((s) => s.name)).toEqual(['relay:thread-events', 'relay:delivered-batch']);
    expect((serverSide[0]?.args[0] as ThreadEvent[]).map((e) => e.seq)).toEqual([1, 2]);
    expect(serverSide[1]?.args[0]).toEqual([['t1', 'u1', 2, 'e1']]);
  });

  it('dispatches batches and single events from other instances', () => {
    const fanout = fanoutFor(true);
    const { nsp, emitted, listeners } = fakeNamespace([threadRoom('t1')]);
    fanout.attach(nsp);
    const delivered: unknown[] = [];
    fanout.onDelivered((...args) => delivered.push(args));
    listeners.get('relay:thread-events')?.([event('t1', 1), event('t1', 2)]);
    listeners.get('relay:thread-event')?.(event('t1', 3));
    listeners.get('relay:delivered-batch')?.([['t1', 'u1', 3, 'e1']]);
    listeners.get('relay:delivered')?.('t1', 'u1', 4);
    expect(emitted.map((e) => e.event.seq)).toEqual([1, 2, 3]);
    expect(fanout.sentHead('t1')?.head).toBe(3);
    // The single form predates epochs in cursors: its epoch is unknown ('').
    expect(delivered).toEqual([
      ['t1', 'u1', 3, 'e1'],
      ['t1', 'u1', 4, ''],
    ]);
  });

  it('tells this instance and the others about a dead instance, and hears theirs', () => {
    const fanout = fanoutFor(true);
    const { nsp, serverSide, listeners } = fakeNamespace([]);
    fanout.attach(nsp);
    const gone: string[] = [];
    fanout.onInstanceGone((instanceId) => gone.push(instanceId));
    fanout.announceInstanceGone('i-1');
    expect(serverSide).toEqual([{ name: 'relay:instance-gone', args: ['i-1'] }]);
    listeners.get('relay:instance-gone')?.('i-2');
    expect(gone).toEqual(['i-1', 'i-2']);
  });

  it('knows the head it sent per thread, from live events and from replays', () => {
    const fanout = fanoutFor(false);
    const { nsp } = fakeNamespace([threadRoom('t1'), threadRoom('t2'), 'user:u1']);
    fanout.attach(nsp);
    expect(fanout.locallyJoinedThreads()).toEqual(['t1', 't2']);
    fanout.publish(event('t1', 1));
    fanout.noteReplayed('t2', 'e1', 5);
    fanout.noteReplayed('t1', 'e1', 0);
    expect(fanout.sentHead('t1')).toEqual({ epoch: 'e1', head: 1 });
    expect(fanout.sentHead('t2')).toEqual({ epoch: 'e1', head: 5 });
    // A replay of a new epoch replaces what was known of the old one.
    fanout.noteReplayed('t2', 'e2', 1);
    expect(fanout.sentHead('t2')).toEqual({ epoch: 'e2', head: 1 });
  });
});
