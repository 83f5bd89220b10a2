/**
 * The producer loops, shared by the in-server producer (bench/server.ts) and the producer
 * in a process of its own (bench/producer.ts).
 */
import type { BurstRequest, ProduceRequest, ProduceResult } from './common.js';

/** Sends one event; a promise when the send is asynchronous (thread-relay, the publisher). */
export type Send = (threadId: string, step: number, measured: boolean) => Promise<unknown> | void;

/**
 * Sends `rate` events per second for warm-up + measure, round-robin over `threads`: every
 * tick of a 1 ms timer sends what is due by the clock, so stalls turn into bursts and the
 * average rate holds as long as the process keeps up. Resolves when every send settled.
 */
export async function produce(send: Send, request: ProduceRequest): Promise<ProduceResult> {
  const { rate, warmupMs, measureMs, threads, step } = request;
  const total = Math.round((rate * (warmupMs + measureMs)) / 1000);
  const warmupCount = Math.round((rate * warmupMs) / 1000);
  const result: ProduceResult = {
    measured: 0,
    sent: 0,
    errors: 0,
    firstError: null,
    elapsedMs: 0,
    plannedMs: warmupMs + measureMs,
    maxInFlight: 0,
    maxBatch: 0,
  };
  let inFlight = 0;
  let settledAll: (() => void) | null = null;
  const settle = (measured: boolean, error: unknown) => {
    inFlight -= 1;
    if (error === null) {
      if (measured) result.measured += 1;
    } else {
      result.errors += 1;
      result.firstError ??= error instanceof Error ? error.message : JSON.stringify(error);
    }
    if (inFlight === 0 && settledAll) settledAll();
  };
  const start = performance.now();
  await new Promise<void>((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - start) * rate) / 1000));
      result.maxBatch = Math.max(result.maxBatch, due - result.sent);
      while (result.sent < due) {
        const index = result.sent;
        const measured = index >= warmupCount;
        const threadId = threads[index % threads.length] as string;
        result.sent += 1;
        const pending = send(threadId, step, measured);
        if (pending) {
          inFlight += 1;
          result.maxInFlight = Math.max(result.maxInFlight, inFlight);
          pending.then(
            () => settle(measured, null),
            (error: unknown) => settle(measured, error),
          );
        } else if (measured) {
          result.measured += 1;
        }
      }
      if (result.sent >= total) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  result.elapsedMs = performance.now() - start;
  if (inFlight > 0) await new Promise<void>((resolve) => (settledAll = resolve));
  return result;
}

/** Sends `perThread` events to each thread with at most `concurrency` sends in flight. */
export async function burst(
  send: Send,
  request: BurstRequest,
): Promise<{ sent: number; errors: number; ms: number }> {
  const jobs: string[] = [];
  for (let i = 0; i < request.perThread; i++) jobs.push(...request.threads);
  const start = performance.now();
  let next = 0;
  let errors = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const threadId = jobs[next++] as string;
      try {
        await send(threadId, request.step, true);
      } catch {
        errors += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: request.concurrency }, worker));
  return { sent: jobs.length, errors, ms: performance.now() - start };
}
