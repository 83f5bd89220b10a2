/** The search for the highest rate a stage sustains with p99 < 50 ms. */
import { describeStep, runStep, type Stage, type StepResult } from './measure-step.js';
import { sleep } from './common.js';

export interface SearchResult {
  maxSustained: number;
  firstFailure: { rate: number; reason: string | null } | null;
  steps: StepResult[];
}

export interface SearchConfig {
  /** Rates tried in order until one is not sustained (twice); then halfway back once. */
  rates: number[];
  warmupMs: number;
  measureMs: number;
}

/** Raises the rate until a step is not sustained twice in a row, then tries halfway back. */
export async function searchMax(stage: Stage, search: SearchConfig): Promise<SearchResult> {
  const { rates, warmupMs, measureMs } = search;
  const steps: StepResult[] = [];
  let best = 0;
  let failure: { rate: number; reason: string | null } | null = null;
  const attempt = async (rate: number): Promise<boolean> => {
    for (let tries = 0; tries < 2; tries++) {
      const result = await runStep(stage, rate, warmupMs, measureMs);
      steps.push(result);
      describeStep(stage.tag, 'search', result);
      if (result.sustained) return true;
      failure = { rate, reason: result.failure };
      await sleep(1_000); // let queues drain before the retry
    }
    return false;
  };
  for (const rate of rates) {
    if (!(await attempt(rate))) break;
    best = rate;
  }
  const failedAt = (failure as { rate: number } | null)?.rate;
  if (failedAt !== undefined && best > 0 && failedAt - best >= 2_000) {
    const middle = Math.round((best + failedAt) / 2 / 1000) * 1000;
    if (await attempt(middle)) best = middle;
  }
  return { maxSustained: best, firstFailure: failure, steps };
}
