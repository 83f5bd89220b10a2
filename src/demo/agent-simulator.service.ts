import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { DeliveryService } from '../delivery/delivery.service.js';
import { makeRunId } from '../ids.js';
import type { UserMessage } from '../thread-relay.options.js';

/** Delays between steps; small enough for a demo, large enough to watch the stream. */
export interface AgentTiming {
  stepMs: number;
  chunkMs: number;
}

const DEFAULT_TIMING: AgentTiming = { stepMs: 250, chunkMs: 60 };

/**
 * Answers each user message with a run whose events are addressed by the run id
 * (`<threadId>_run_<epochMillis>_<hex>`), the way a real agent backend does: the relay
 * resolves the run id to the thread. Runs may overlap.
 */
@Injectable()
export class AgentSimulatorService implements OnApplicationShutdown {
  private readonly logger = new Logger(AgentSimulatorService.name);
  private readonly running = new Set<Promise<void>>();
  private stopped = false;
  timing: AgentTiming = DEFAULT_TIMING;

  constructor(private readonly delivery: DeliveryService) {}

  handle(message: UserMessage): void {
    const run = this.run(message).catch((error: unknown) => {
      this.logger.error({
        msg: 'agent run failed',
        threadId: message.threadId,
        reason: String(error),
      });
    });
    this.running.add(run);
    void run.finally(() => this.running.delete(run));
  }

  private async run(message: UserMessage): Promise<void> {
    const runId = makeRunId(message.threadId);
    const send = (type: string, payload: Record<string, unknown>) =>
      this.delivery.sendToThread(runId, type, { runId, ...payload });
    const pause = (ms: number) => new Promise<void>((r) => setTimeout(r, this.stopped ? 0 : ms));

    await send('agent_started', { input: message.text.slice(0, 200) });
    await pause(this.timing.stepMs);
    await send('agent_thinking', { thought: 'Reading the question and picking a tool.' });
    await pause(this.timing.stepMs);
    await send('tool_executing', { tool: 'echo', args: { text: message.text.slice(0, 200) } });
    await pause(this.timing.stepMs);
    await send('tool_completed', { tool: 'echo', result: message.text.length });
    const answer = `You said "${message.text.slice(0, 200)}" (${message.text.length} characters).`;
    const words = answer.split(' ');
    for (let i = 0; i < words.length; i += 3) {
      await pause(this.timing.chunkMs);
      await send('assistant_message', {
        delta: words.slice(i, i + 3).join(' ') + ' ',
        final: false,
      });
    }
    await send('assistant_message', { text: answer, final: true });
    await send('agent_completed', { status: 'ok' });
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled([...this.running]);
  }
}
