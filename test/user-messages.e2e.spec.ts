import type { Socket } from 'socket.io-client';
import {
  RelayMetrics,
  userMessageKey,
  userMessageTextLimit,
  UserMessageService,
  type UserMessage,
} from '../src/index.js';
import { parsePrometheus, sample } from './support/prometheus.js';
import { backendModes, connectSocket } from './support/relay-app.js';
import { useRelayApp } from './support/use-relay-app.js';

type Answer = {
  ok: boolean;
  seq?: number;
  duplicate?: boolean;
  error?: { code: string; message: string };
};

/** Users whose ids put dots where the old key put its separator, and one of 200 characters. */
const DOTTED = 'a.b';
const SHORT = 'a';
const LONG_USER = `u${'x'.repeat(199)}`;

describe('userMessageKey', () => {
  it('is the same length whatever the ids, and never the same for two (user, message) pairs', () => {
    expect(userMessageKey(DOTTED, 'c')).not.toBe(userMessageKey(SHORT, 'b.c'));
    expect(userMessageKey('a', 'b')).toBe(userMessageKey('a', 'b'));
    expect(userMessageKey(LONG_USER, 'm'.repeat(100))).toHaveLength(
      userMessageKey('a', 'b').length,
    );
    expect(userMessageKey('a', 'b')).toMatch(/^um:[A-Za-z0-9_-]{43}$/);
  });
});

describe.each(backendModes('user-messages'))('user messages (%s)', (mode, config) => {
  const sockets: Socket[] = [];
  const handled: UserMessage[] = [];
  const shared = `${mode}-shared-thread`;

  const open = async (userId: string) => {
    const socket = await connectSocket(relay.url, await relay.token(userId));
    sockets.push(socket);
    return socket;
  };
  const send = async (userId: string, threadId: string, text: string, clientMessageId: string) =>
    (await (
      await open(userId)
    ).emitWithAck('user:message', {
      threadId,
      text,
      clientMessageId,
    })) as Answer;

  const relay = useRelayApp(() => ({
    ...config(),
    // Everyone may write to the shared thread: two users' messages land in one log.
    threadAccess: (userId, threadId, thread) =>
      threadId === shared || thread === null || thread.ownerId === userId,
  }));
  beforeAll(async () => {
    relay.app.get(UserMessageService).onMessage((message) => {
      handled.push(message);
    });
    await relay.registry.registerThread(shared, 'owner');
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });

  it('keeps two users’ messages apart where the ids once made the same key', async () => {
    const first = await send(DOTTED, shared, 'from a.b', 'c');
    const second = await send(SHORT, shared, 'from a', 'b.c');
    expect(first).toMatchObject({ ok: true, duplicate: false });
    expect(second).toMatchObject({ ok: true, duplicate: false });
    expect(second.seq).toBe((first.seq ?? 0) + 1);
    // The same pair again is a duplicate, answered with the first receipt.
    expect(await send(SHORT, shared, 'from a', 'b.c')).toMatchObject({
      ok: true,
      duplicate: true,
      seq: second.seq,
    });
    const texts = handled.filter((m) => m.threadId === shared).map((m) => m.text);
    expect(texts).toEqual(['from a.b', 'from a']);
  });

  it('accepts messages of a 200-character user id', async () => {
    const threadId = `${mode}-long-user-thread`;
    const answer = await send(LONG_USER, threadId, 'hello', 'm'.repeat(100));
    expect(answer).toMatchObject({ ok: true, seq: 1 });
    expect(await relay.registry.getThread(threadId)).toMatchObject({ ownerId: LONG_USER });
  });

  it('takes every text its byte limit allows, whatever its script, and refuses one byte more', async () => {
    const limit = userMessageTextLimit(65_536);
    const threadId = `${mode}-big-texts`;
    // As JSON: two quotes, then three bytes per '€' and one per 'x'.
    const euros = Math.floor((limit - 2) / 3);
    const fits = '€'.repeat(euros) + 'x'.repeat(limit - 2 - euros * 3);
    expect(Buffer.byteLength(JSON.stringify(fits))).toBe(limit);
    // The longest ids, so the rest of the event is as large as it gets.
    const stored = await send(LONG_USER, threadId, fits, 'm'.repeat(100));
    expect(stored).toMatchObject({ ok: true });
    const page = await relay.delivery.history(threadId, 0, 10);
    expect((page.messages.at(-1)?.payload as { text: string }).text).toBe(fits);

    const over = await send(LONG_USER, threadId, `${fits}x`, 'n'.repeat(100));
    expect(over).toMatchObject({ ok: false, error: { code: 'PAYLOAD_TOO_LARGE' } });
    expect(over.error?.message).toMatch(/text is \d+ bytes as JSON, above the \d+-byte limit/);
    // 21,800 three-byte characters: under the old 32,000-character limit, over the bytes.
    const script = await send(LONG_USER, threadId, '€'.repeat(21_800), 'o'.repeat(100));
    expect(script).toMatchObject({ ok: false, error: { code: 'PAYLOAD_TOO_LARGE' } });
    expect((await relay.delivery.history(threadId, 0, 10)).headSeq).toBe(page.headSeq);
  });

  it('counts joined threads on the gauge as connections join, leave and go', async () => {
    const gauge = async () =>
      sample(parsePrometheus(await relay.app.get(RelayMetrics).text()), 'relay_joined_threads');
    const base = await gauge();
    const socket = await open('gauge-user');
    await socket.emitWithAck('thread:join', { threadId: `${mode}-gauge-1` });
    await socket.emitWithAck('thread:join', { threadId: `${mode}-gauge-2` });
    expect(await gauge()).toBe(base + 2);
    await socket.emitWithAck('thread:leave', { threadId: `${mode}-gauge-1` });
    expect(await gauge()).toBe(base + 1);
  });
});
