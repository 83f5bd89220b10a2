/**
 * What a thread's event stream tells its client when it starts again instead of going on
 * from where the client was: `thread.reset` in every format.
 */
export interface StreamResetNotice {
  threadId: string;
  /**
   * `cursor_unavailable`: the client's cursor cannot be served (another log, trimmed,
   * expired), the stream goes on from the oldest event kept; `log_replaced`: a new log
   * replaced the thread's log under the stream, which goes on with it from its start.
   */
  reason: string;
  /** The log the stream goes on with. */
  epoch: string;
  headSeq?: number | undefined;
  firstSeq?: number | undefined;
}

/** The reset signal's name in AG-UI (`CUSTOM`); the AI SDK's data part is `data-thread-reset`. */
export const THREAD_RESET = 'thread.reset';

/** The notice's fields, without those it does not have (JSON on the wire drops them too). */
export function resetFields(notice: StreamResetNotice): Record<string, string | number> {
  const fields: Record<string, string | number> = {
    threadId: notice.threadId,
    reason: notice.reason,
    epoch: notice.epoch,
  };
  if (notice.headSeq !== undefined) fields.headSeq = notice.headSeq;
  if (notice.firstSeq !== undefined) fields.firstSeq = notice.firstSeq;
  return fields;
}

/**
 * The id of the run (AG-UI) or message (AI SDK) that carries the notice: from the log and
 * where the stream goes on in it, never random, and apart from every other reset of the
 * stream (a stream leaves a log once; each trim it crosses moves `firstSeq` on).
 */
export function resetId(notice: StreamResetNotice): string {
  return `thread-reset-${notice.epoch}-${notice.firstSeq ?? 0}`;
}
