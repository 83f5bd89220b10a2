import type { JsonValue, ThreadEvent } from '../../src/protocol.js';

/** Thread events numbered 1.. in one log, as a renderer or a stream receives them. */
export function threadEvents(
  list: Array<[type: string, payload: JsonValue]>,
  log: { threadId: string; epoch: string; runId?: string },
): ThreadEvent[] {
  return list.map(([type, payload], i) => ({
    id: `e${i + 1}`,
    threadId: log.threadId,
    seq: i + 1,
    epoch: log.epoch,
    type,
    payload,
    ...(log.runId ? { runId: log.runId } : {}),
    ts: 1_700_000_000_000 + i,
  }));
}
