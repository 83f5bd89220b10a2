/**
 * One-shot delivery probe against a running reference server:
 *
 *   npm run probe -- --user-id test --message "ping" [--url http://localhost:8000] [--timeout-ms 15000]
 *
 * Gets a dev token, connects over WebSocket with the client SDK, opens a new thread,
 * sends the message and waits for the agent's `agent_completed`, printing each event with
 * its latency. Exit 0 when the run came through in order; 1 with the reason otherwise
 * (server down, unauthorized, timeout, ...); 2 for bad arguments.
 */
import { parseArgs } from 'node:util';
import { ProbeError, runDeliveryProbe, type ProbeReport } from './lib/delivery-probe.js';

const USAGE = `usage: npm run probe -- --user-id <id> --message <text> [--url http://localhost:8000]
                        [--timeout-ms 15000] [--thread-id <id>] [--token <jwt>]`;

interface CliOptions {
  url: string;
  userId: string;
  message: string;
  timeoutMs: number;
  threadId: string | undefined;
  token: string | undefined;
}

class UsageError extends Error {}

function readArgs(argv: string[]): CliOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        'user-id': { type: 'string' },
        message: { type: 'string' },
        url: { type: 'string', default: 'http://localhost:8000' },
        'timeout-ms': { type: 'string', default: '15000' },
        'thread-id': { type: 'string' },
        token: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const userId = values['user-id'];
  const message = values.message;
  if (!userId) throw new UsageError('--user-id is required');
  if (message === undefined || message === '') throw new UsageError('--message is required');
  const timeoutMs = Number(values['timeout-ms']);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) {
    throw new UsageError(`--timeout-ms must be a positive integer, got ${values['timeout-ms']}`);
  }
  try {
    new URL(values.url);
  } catch {
    throw new UsageError(`--url must be an absolute URL, got ${values.url}`);
  }
  return {
    url: values.url,
    userId,
    message,
    timeoutMs,
    threadId: values['thread-id'],
    token: values.token,
  };
}

function print(line: ProbeReport): void {
  if (line.kind === 'step') {
    console.log(`[${String(line.elapsedMs).padStart(5)} ms] ${line.text}`);
    return;
  }
  const { event, sinceSendMs, latencyMs } = line;
  const run = event.runId ? `  run ${event.runId}` : '';
  console.log(
    `  seq ${String(event.seq).padStart(3)}  ${event.type.padEnd(18)}` +
      ` +${String(sinceSendMs).padStart(5)} ms after send` +
      `  latency ${String(latencyMs).padStart(4)} ms${run}`,
  );
}

async function main(): Promise<number> {
  let options: CliOptions;
  try {
    options = readArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`probe: ${error.message}\n${USAGE}`);
    return 2;
  }
  console.log(`probe: ${options.url} as ${options.userId}, timeout ${options.timeoutMs} ms`);
  try {
    const result = await runDeliveryProbe({ ...options, report: print });
    const latencies = result.events.map((r) => r.latencyMs);
    console.log(
      `probe: OK: ${result.events.length} events on ${result.threadId}, run ${result.runId}, ` +
        `agent_completed ${result.roundTripMs} ms after send, ` +
        `max event latency ${Math.max(...latencies)} ms, total ${result.totalMs} ms`,
    );
    return 0;
  } catch (error) {
    if (error instanceof ProbeError) {
      console.error(`probe: FAILED (${error.code}): ${error.message}`);
      return 1;
    }
    throw error;
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error('probe: crashed:', error);
    process.exitCode = 1;
  },
);
