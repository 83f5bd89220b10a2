/**
 * A producer in a process of its own: no Nest app of the test's, no socket.io server, only
 * `createPublisher` over Redis. Options come as JSON in PRODUCER_CHILD_OPTIONS; commands as
 * JSON lines on stdin, answers as JSON lines on stdout marked `PRODUCER_ANSWER` (first
 * `{ ready: true }`); other stdout lines are the publisher's log.
 *
 *   { "id": 1, "op": "send", "target": "t", "type": "x", "payload": {}, "key": "k" }
 *   { "id": 2, "op": "sendThenDie", ... }   SIGKILLs itself as soon as the receipt is in
 *   { "id": 3, "op": "registerThread", "threadId": "t", "ownerId": "u" }
 *   { "id": 4, "op": "waitForDelivery", "threadId": "t", "seq": 3, "timeoutMs": 5000 }
 */
import { createInterface } from 'node:readline';
import { closeOnStop } from './child-entry.js';
import { ANSWER } from './producer-protocol.js';
import { createPublisher, type PublisherOptions } from '../../src/publisher/index.js';

interface Command {
  id: number;
  op: 'send' | 'sendThenDie' | 'registerThread' | 'registerRun' | 'waitForDelivery' | 'close';
  target?: string;
  type?: string;
  payload?: unknown;
  key?: string;
  threadId?: string;
  ownerId?: string;
  runId?: string;
  seq?: number;
  timeoutMs?: number;
}

const options = JSON.parse(process.env.PRODUCER_CHILD_OPTIONS ?? '{}') as PublisherOptions;
const publisher = createPublisher(options);
/** Answers are marked: the publisher's own log lines go to stdout too. */
const answer = (value: object) => process.stdout.write(`${ANSWER} ${JSON.stringify(value)}\n`);

async function run(command: Command): Promise<unknown> {
  switch (command.op) {
    case 'send':
    case 'sendThenDie': {
      const receipt = await publisher.sendToThread(
        command.target ?? '',
        command.type ?? '',
        command.payload,
        command.key === undefined ? {} : { idempotencyKey: command.key },
      );
      // Nothing of this process runs after the append's reply: no fan-out could.
      if (command.op === 'sendThenDie') process.kill(process.pid, 'SIGKILL');
      return receipt;
    }
    case 'registerThread':
      return publisher.registerThread(command.threadId ?? '', command.ownerId ?? '');
    case 'registerRun':
      return publisher.registerRun(command.runId ?? '', command.threadId ?? '');
    case 'waitForDelivery':
      return publisher.waitForDelivery(
        command.threadId ?? '',
        command.seq ?? 0,
        command.timeoutMs ?? 0,
      );
    case 'close':
      await publisher.close();
      return null;
  }
}

createInterface({ input: process.stdin }).on('line', (line) => {
  const command = JSON.parse(line) as Command;
  run(command).then(
    (result) => answer({ id: command.id, ok: true, result }),
    (error: unknown) =>
      answer({
        id: command.id,
        ok: false,
        error: {
          code: (error as { code?: string }).code ?? 'INTERNAL',
          message: error instanceof Error ? error.message : String(error),
        },
      }),
  );
});
closeOnStop(() => publisher.close());
answer({ ready: true });
