import type { DeliveryReceipt } from '../../src/index.js';
import { TEST_ADMIN_TOKEN } from './relay-app.js';

/** A refused or failed send: the producer has no receipt, so the event is not acknowledged. */
export class SendRefused extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A producer on a relay instance in another process: `POST /debug/websocket/send` runs
 * `DeliveryService.sendToThread` inside that instance; the receipt is the acknowledgement.
 */
export async function sendViaInstance(
  instanceUrl: string,
  target: { threadId: string } | { runId: string },
  type: string,
  payload: Record<string, unknown>,
): Promise<DeliveryReceipt> {
  const response = await fetch(`${instanceUrl}/debug/websocket/send`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ...target, type, payload }),
  });
  const body = (await response.json()) as DeliveryReceipt & {
    error?: { code?: string; message?: string };
  };
  if (!response.ok) {
    throw new SendRefused(
      response.status,
      body.error?.code,
      `send to ${JSON.stringify(target)} refused with ${response.status}: ${body.error?.message ?? ''}`,
    );
  }
  return body;
}
