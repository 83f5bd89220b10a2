import type { Socket } from 'socket.io-client';
import { makeRunId, UserMessageService, type ThreadEvent, type UserMessage } from '../src/index.js';
import { connectSocket, instanceModes, type RelayApp } from './support/relay-app.js';
import { useRelayApps } from './support/use-relay-app.js';
import { waitUntil } from './support/wait-until.js';

/**
 * Run ids are not thread ids: a user who picks a run's id as a "thread" of their own must
 * not receive that run's events, nor write into its thread. Run with one instance in
 * memory, and with two on Redis where the producer's instance has never resolved the id
 * (a cold cache reads the store, which is where the hijack used to win).
 */
describe.each(instanceModes('hijack'))(
  'run ids cannot be hijacked (%s)',
  (mode, instances, config) => {
    const sockets: Socket[] = [];
    const userMessages: UserMessage[] = [];
    /** Where the victim's connection lives and where the attacker's does. */
    const home = () => apps[0]!;
    /** The producer's instance: the other one on Redis, so its resolve cache is cold. */
    const producer = () => apps[apps.length - 1]!;

    const open = async (userId: string, app = home()) => {
      const socket = await connectSocket(app.url, await app.token(userId));
      sockets.push(socket);
      return socket;
    };
    const wire = (socket: Socket) => {
      const events: ThreadEvent[] = [];
      socket.on('thread:event', (event: ThreadEvent) => events.push(event));
      return events;
    };
    const rest = async (
      app: RelayApp,
      userId: string,
      method: 'GET' | 'POST',
      threadId: string,
      body?: object,
    ) => {
      const response = await fetch(`${app.url}/threads/${encodeURIComponent(threadId)}/messages`, {
        method,
        headers: {
          authorization: `Bearer ${await app.token(userId)}`,
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        body: body ? JSON.stringify(body) : undefined,
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };

    const apps = useRelayApps(instances, config, (i) => ({ instanceId: `hijack-${mode}-${i}` }));
    beforeAll(() => {
      for (const app of apps) {
        app.app.get(UserMessageService).onMessage((message) => {
          userMessages.push(message);
        });
      }
    });
    afterEach(() => {
      for (const socket of sockets.splice(0)) socket.close();
    });

    it('refuses a run-form id as a thread, so the run’s events reach only its thread’s owner', async () => {
      const victimThread = `hj-${mode}-victim-1`;
      const runId = makeRunId(victimThread);
      const victim = await open('victim');
      const victimWire = wire(victim);
      expect(await victim.emitWithAck('thread:join', { threadId: victimThread })).toMatchObject({
        ok: true,
      });

      const attacker = await open('attacker');
      const attackerWire = wire(attacker);
      const joined = (await attacker.emitWithAck('thread:join', { threadId: runId })) as {
        ok: boolean;
        error?: { code: string; message: string };
      };
      expect(joined).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
      expect(joined.error?.message).toMatch(/reserved for runs/);
      // Nor over REST, on any instance.
      for (const app of apps) {
        expect((await rest(app, 'attacker', 'GET', runId)).status).toBe(400);
        expect(
          (
            await rest(app, 'attacker', 'POST', runId, {
              text: 'x',
              clientMessageId: `p-${app.url}`,
            })
          ).status,
        ).toBe(400);
      }
      // Nor as Server-Sent Events, nor through a stream ticket for EventSource.
      for (const app of apps) {
        const headers = { authorization: `Bearer ${await app.token('attacker')}` };
        const path = `${app.url}/threads/${encodeURIComponent(runId)}`;
        const events = await fetch(`${path}/events`, { headers });
        expect({ events: events.status }).toEqual({ events: 400 });
        expect(await events.json()).toMatchObject({ error: { code: 'BAD_REQUEST' } });
        const ticket = await fetch(`${path}/stream-tickets`, { method: 'POST', headers });
        expect({ ticket: ticket.status }).toEqual({ ticket: 400 });
      }
      expect(await home().registry.getThread(runId)).toBeNull();

      // The agent streams its run from the other instance, which has never resolved the id.
      const receipts = [];
      for (let i = 1; i <= 3; i++) {
        receipts.push(
          await producer().delivery.sendToThread(runId, 'assistant_message', { secret: i }),
        );
      }
      expect(receipts.map((r) => r.threadId)).toEqual([victimThread, victimThread, victimThread]);
      await waitUntil(() => victimWire.length === 3, 'the victim’s copies of the run');
      expect(victimWire.map((e) => e.runId)).toEqual([runId, runId, runId]);
      expect(attackerWire).toEqual([]);
    });

    it('refuses a user message to a run id even where the id resolves from a warm cache', async () => {
      const victimThread = `hj-${mode}-victim-2`;
      const runId = makeRunId(victimThread);
      await home().registry.registerThread(victimThread, 'victim');
      // The attacker's instance resolves the run once: its cache now maps run -> victim thread.
      await home().delivery.sendToThread(runId, 'agent_started', {});
      const before = await home().delivery.history(victimThread, 0, 100);
      const attacker = await open('attacker');

      const socketWrite: unknown = await attacker.emitWithAck('user:message', {
        threadId: runId,
        text: 'run this',
        clientMessageId: 'hj-1',
      });
      expect(socketWrite).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
      const restWrite = await rest(home(), 'attacker', 'POST', runId, {
        text: 'run this',
        clientMessageId: 'hj-2',
      });
      expect(restWrite.status).toBe(400);

      const after = await home().delivery.history(victimThread, 0, 100);
      expect(after.headSeq).toBe(before.headSeq);
      expect(after.messages.filter((m) => m.type === 'user_message')).toEqual([]);
      expect(userMessages.filter((m) => m.userId === 'attacker')).toEqual([]);
    });

    it('tells the producer RUN_CONFLICT when a predictable run id was taken as a thread first', async () => {
      const victimThread = `hj-${mode}-victim-3`;
      const runId = `run-${mode}-1001`;
      await home().registry.registerThread(victimThread, 'victim');
      const attacker = await open('attacker');
      const attackerWire = wire(attacker);
      expect(await attacker.emitWithAck('thread:join', { threadId: runId })).toMatchObject({
        ok: true,
      });

      await expect(producer().registry.registerRun(runId, victimThread)).rejects.toMatchObject({
        code: 'RUN_CONFLICT',
      });
      // The id stays the attacker's thread: what is sent to it was never the victim's.
      const receipt = await producer().delivery.sendToThread(runId, 'assistant_message', {});
      expect(receipt.threadId).toBe(runId);
      await waitUntil(() => attackerWire.length === 1, 'the send to the attacker’s own thread');
      expect(await home().registry.runsOfThread(victimThread)).toEqual([]);
    });

    it('refuses a registered run id as a thread, on every instance', async () => {
      const victimThread = `hj-${mode}-victim-4`;
      const runId = `run-${mode}-2002`;
      await home().registry.registerThread(victimThread, 'victim');
      await producer().registry.registerRun(runId, victimThread);
      const victim = await open('victim');
      const victimWire = wire(victim);
      await victim.emitWithAck('thread:join', { threadId: victimThread });

      for (const app of apps) {
        const attacker = await open('attacker', app);
        const attackerWire = wire(attacker);
        expect(await attacker.emitWithAck('thread:join', { threadId: runId })).toMatchObject({
          ok: false,
          error: { code: 'BAD_REQUEST' },
        });
        // A read says the same, rather than THREAD_NOT_FOUND.
        const read = await rest(app, 'attacker', 'GET', runId);
        expect(read.status).toBe(400);
        expect(JSON.stringify(read.body)).toContain('reserved for runs');
        const receipt = await producer().delivery.sendToThread(runId, 'assistant_message', {});
        expect(receipt.threadId).toBe(victimThread);
        await waitUntil(
          () => victimWire.some((e) => e.seq === receipt.seq),
          'the victim’s copy of the event',
        );
        expect(attackerWire).toEqual([]);
      }
      await expect(home().registry.registerThread(runId, 'attacker')).rejects.toMatchObject({
        code: 'RUN_CONFLICT',
      });
    });
  },
);
