#!/usr/bin/env node
// Starts N instances of the built reference server against one Redis, each on its own
// port, with each output line prefixed by the instance's name; Ctrl-C or SIGTERM stops
// them all.
//
//   npm run build && npm run cluster -- [--instances 2] [--base-port 8001]
//
// Redis: REDIS_URL, else redis://127.0.0.1:6379. Every other variable (RELAY_JWT_SECRET,
// RELAY_ADMIN_TOKEN, LOG_LEVEL, ...) is passed to each instance as it is.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as delay } from 'node:timers/promises';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const server = join(root, 'dist/src/main.js');
/** How long instances get to shut down before they are killed. */
const STOP_GRACE_MS = 10_000;
const COLORS = [36, 33, 35, 32, 34, 31];

function usage(message) {
  console.error(`cluster: ${message}`);
  console.error('usage: npm run cluster -- [--instances 2] [--base-port 8001]');
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      instances: { type: 'string', default: '2' },
      'base-port': { type: 'string', default: '8001' },
    },
  }));
} catch (error) {
  usage(error instanceof Error ? error.message : String(error));
}
const count = Number(values.instances);
const basePort = Number(values['base-port']);
if (!Number.isInteger(count) || count < 1 || count > 32) {
  usage(`--instances must be an integer from 1 to 32, got ${values.instances}`);
}
if (!Number.isInteger(basePort) || basePort < 1 || basePort + count - 1 > 65535) {
  usage(`--base-port must leave room for ${count} ports below 65536, got ${values['base-port']}`);
}
if (!existsSync(server)) {
  console.error(`cluster: ${server} not found; run \`npm run build\` first`);
  process.exit(1);
}

const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const color = (n, text) =>
  process.stdout.isTTY ? `\x1b[${COLORS[n % COLORS.length]}m${text}\x1b[0m` : text;

/** @type {{ name: string, port: number, child: import('node:child_process').ChildProcess, exited: Promise<number | null> }[]} */
const instances = [];
let stopping = false;

function pipe(stream, out, prefix) {
  createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
    out.write(`${prefix} ${line}\n`);
  });
}

for (let i = 0; i < count; i += 1) {
  const name = `relay-${i + 1}`;
  const port = basePort + i;
  const child = spawn(process.execPath, [server], {
    cwd: root,
    env: { ...process.env, PORT: String(port), REDIS_URL: redisUrl },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const prefix = color(i, `[${name}:${port}]`);
  pipe(child.stdout, process.stdout, prefix);
  pipe(child.stderr, process.stderr, prefix);
  const exited = new Promise((resolveExit) => {
    child.once('exit', (code, signal) => {
      console.log(`${prefix} exited (${signal ?? `code ${code}`})`);
      resolveExit(code);
      if (!stopping) {
        console.error(`cluster: ${name} stopped on its own; stopping the others`);
        void stopAll(1);
      }
    });
    child.once('error', (error) => {
      console.error(`${prefix} could not start: ${error.message}`);
      resolveExit(1);
      if (!stopping) void stopAll(1);
    });
  });
  instances.push({ name, port, child, exited });
}

console.log(
  `cluster: ${count} instance(s) on ports ${basePort}-${basePort + count - 1}, Redis ${redactUrl(redisUrl)}; Ctrl-C stops all`,
);
for (const { name, port } of instances)
  console.log(`cluster:   ${name}  http://localhost:${port}/`);

async function stopAll(exitCode) {
  if (stopping) return;
  stopping = true;
  const running = instances.filter(
    ({ child }) => child.exitCode === null && child.signalCode === null,
  );
  if (running.length > 0) console.log(`cluster: stopping ${running.length} instance(s)`);
  for (const { child } of running) child.kill('SIGTERM');
  const all = Promise.all(instances.map(({ exited }) => exited));
  const timedOut = await Promise.race([
    all.then(() => false),
    delay(STOP_GRACE_MS, true, { ref: false }),
  ]);
  if (timedOut) {
    for (const { name, child } of instances) {
      if (child.exitCode === null && child.signalCode === null) {
        console.error(`cluster: ${name} did not stop within ${STOP_GRACE_MS} ms; killing it`);
        child.kill('SIGKILL');
      }
    }
    await all;
  }
  process.exit(exitCode);
}

process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

function redactUrl(url) {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}
