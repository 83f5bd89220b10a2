import { postSend, type SendReceipt } from './chaos-harness.js';

/** A refused or failed send: the producer has no receipt, so the event is not acknowledged. */
export class SendRefused extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
  ) {
    super(`send refused: HTTP ${status} ${code}`);
  }
}

/**
 * A producer on a relay instance in another process: `POST /debug/websocket/send` runs
 * `DeliveryService.sendToThread` inside that instance; the receipt is the acknowledgement.
 * Unlike `postSend`, a refusal throws, for specs where every send must succeed.
 */
export async function sendViaInstance(
  instanceUrl: string,
  target: { threadId: string } | { runId: string },
  type: string,
  payload: Record<string, unknown>,
): Promise<SendReceipt> {
  const outcome = await postSend(
    instanceUrl,
    'threadId' in target ? target.threadId : target,
    type,
    payload,
  );
  if (!outcome.ok) throw new SendRefused(outcome.status, outcome.code);
  return outcome.receipt;
}
