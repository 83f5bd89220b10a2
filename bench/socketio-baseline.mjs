/**
 * The plain socket.io app thread-relay is measured against, by the bench (bench/server.ts,
 * modes `plain` and `plain-redis`) and by the chaos suite's disconnect storm
 * (test/support/socketio-baseline-server.mjs): what a typical app builds from socket.io 4.8,
 * across instances with @socket.io/redis-adapter on ioredis; no log, no replay, no acks. A
 * client joins its thread's room with `thread:join` (ack'd), on every connect; the app emits
 * `thread:event` to the room.
 *
 * Plain JavaScript with explicit imports, so the chaos suite's child runs it with node as
 * is. The bench takes its types from socketio-baseline.d.mts; that declaration would keep
 * tsc from copying this file into the bench's build, so tsconfig.bench.json lists it
 * (allowJs).
 */
import http from 'node:http';
import { Server } from 'socket.io';

const room = (threadId) => `thread:${threadId}`;

/**
 * Listens on a free port of 127.0.0.1. With `redisUrl`, the instances sharing `keyPrefix`
 * broadcast to each other through the adapter; `onRequest` answers the HTTP requests that
 * are not socket.io's.
 */
export async function startSocketIoBaseline({ redisUrl, keyPrefix = 'baseline:', onRequest }) {
  const httpServer = http.createServer(onRequest);
  let adapterClients = null;
  let adapter;
  if (redisUrl) {
    // Loaded only here: the bench's single-instance mode carries nothing it does not use.
    const [{ Redis }, { createAdapter }] = await Promise.all([
      import('ioredis'),
      import('@socket.io/redis-adapter'),
    ]);
    const pub = new Redis(redisUrl);
    const sub = pub.duplicate();
    adapterClients = { pub, sub };
    adapter = createAdapter(pub, sub, { key: `${keyPrefix}socket.io` });
  }
  const io = new Server(httpServer, { serveClient: false, ...(adapter ? { adapter } : {}) });
  io.on('connection', (socket) => {
    socket.on('thread:join', (body, ack) => {
      const threadId = body?.threadId;
      if (typeof threadId !== 'string') return ack?.({ ok: false });
      void socket.join(room(threadId));
      ack?.({ ok: true, threadId });
    });
  });
  if (adapterClients) await Promise.all([adapterClients.pub.ping(), adapterClients.sub.ping()]);
  await new Promise((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  return {
    io,
    url: `http://127.0.0.1:${httpServer.address().port}`,
    redis: adapterClients,
    emitToThread(threadId, event) {
      io.to(room(threadId)).emit('thread:event', event);
    },
    connections: () => io.of('/').sockets.size,
    async close() {
      io.disconnectSockets(true);
      await io.close();
      if (adapterClients) {
        await Promise.allSettled([adapterClients.pub.quit(), adapterClients.sub.quit()]);
      }
    },
  };
}
