/**
 * The baseline the disconnect-storm test compares thread-relay with, as a process of its
 * own: the plain socket.io + `@socket.io/redis-adapter` app of bench/socketio-baseline.mjs
 * (the bench measures the same one), plus `POST /send { threadId, type, payload }`, which
 * numbers the event with a per-thread counter in Redis (shared by every instance) and emits
 * it to the thread's room.
 *
 * Speaks the relay child's protocol, so `spawnRelayChild` starts it: options as JSON in
 * RELAY_CHILD_OPTIONS (`redis`: URL, `keyPrefix`), prints `RELAY_CHILD_READY <url>` once
 * listening, exits when stdin closes. Plain JavaScript with explicit imports so it runs
 * with node as is.
 */
import { Buffer } from 'node:buffer';
import process from 'node:process';
import { Redis } from 'ioredis';
import { startSocketIoBaseline } from '../../bench/socketio-baseline.mjs';

const options = JSON.parse(process.env.RELAY_CHILD_OPTIONS ?? '{}');
if (typeof options.redis !== 'string')
  throw new Error('baseline server: options.redis (URL) is required');
const prefix = typeof options.keyPrefix === 'string' ? options.keyPrefix : 'baseline:';

const commands = new Redis(options.redis);
commands.on('error', () => undefined);

function reply(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function onRequest(req, res) {
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
        baseline.emitToThread(threadId, { threadId, seq, type, payload, ts: Date.now() });
        reply(res, 200, { threadId, seq });
      },
      (error) => reply(res, 503, { error: String(error) }),
    );
  });
}

const [baseline] = await Promise.all([
  startSocketIoBaseline({ redisUrl: options.redis, keyPrefix: prefix, onRequest }),
  commands.ping(),
]);
for (const client of [baseline.redis.pub, baseline.redis.sub]) client.on('error', () => undefined);
process.stdout.write(`RELAY_CHILD_READY ${baseline.url}\n`);

process.stdin.on('end', () => {
  Promise.allSettled([baseline.close(), commands.quit()]).then(() => process.exit(0));
});
process.stdin.resume();
