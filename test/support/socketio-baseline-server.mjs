/**
 * The baseline the disconnect-storm test compares thread-relay with: what a typical app
 * builds from plain socket.io 4.8 + `@socket.io/redis-adapter` (ioredis), no log, no
 * replay, no acks. A client joins a room per thread with `thread:join` (ack'd) on every
 * connect; `POST /send { threadId, type, payload }` numbers the event with a per-thread
 * counter in Redis (shared by every instance) and emits it to the thread's room.
 *
 * Speaks the relay child's protocol, so `spawnRelayChild` starts it: options as JSON in
 * RELAY_CHILD_OPTIONS (`redis`: URL, `keyPrefix`), prints `RELAY_CHILD_READY <url>` once
 * listening, exits when stdin closes. Plain JavaScript with explicit imports so it runs
 * with node as is.
 */
import { Buffer } from 'node:buffer';
import http from 'node:http';
import process from 'node:process';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';

const options = JSON.parse(process.env.RELAY_CHILD_OPTIONS ?? '{}');
if (typeof options.redis !== 'string')
  throw new Error('baseline server: options.redis (URL) is required');
const prefix = typeof options.keyPrefix === 'string' ? options.keyPrefix : 'baseline:';

const pub = new Redis(options.redis);
const sub = pub.duplicate();
const commands = pub.duplicate();
for (const client of [pub, sub, commands]) client.on('error', () => undefined);

const room = (threadId) => `thread:${threadId}`;

function reply(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

const httpServer = http.createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/send') return reply(res, 404, { error: 'not found' });
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString());
    } catch {
      return reply(res, 400, { error: 'bad json' });
    }
    const { threadId, type, payload } = body ?? {};
    if (typeof threadId !== 'string') return reply(res, 400, { error: 'threadId is required' });
    commands.incr(`${prefix}seq:{${threadId}}`).then(
      (seq) => {
        io.to(room(threadId)).emit('thread:event', {
          threadId,
          seq,
          type,
          payload,
          ts: Date.now(),
        });
        reply(res, 200, { threadId, seq });
      },
      (error) => reply(res, 503, { error: String(error) }),
    );
  });
});

const io = new Server(httpServer, {
  adapter: createAdapter(pub, sub, { key: `${prefix}socket.io` }),
});
io.on('connection', (socket) => {
  socket.on('thread:join', (body, ack) => {
    const threadId = body?.threadId;
    if (typeof threadId !== 'string') return ack?.({ ok: false });
    void socket.join(room(threadId));
    ack?.({ ok: true, threadId });
  });
});

await Promise.all([pub, sub, commands].map((client) => client.ping()));
httpServer.listen(0, '127.0.0.1', () => {
  const { port } = httpServer.address();
  process.stdout.write(`RELAY_CHILD_READY http://127.0.0.1:${port}\n`);
});

process.stdin.on('end', () => {
  io.close(() => {
    Promise.allSettled([pub, sub, commands].map((client) => client.quit())).then(() =>
      process.exit(0),
    );
  });
});
process.stdin.resume();
