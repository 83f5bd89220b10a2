export interface SendOptions {
  /** Within history retention, the same key returns the first receipt and appends nothing. */
  idempotencyKey?: string;
}

export interface DeliveryReceipt {
  messageId: string;
  threadId: string;
  seq: number;
  epoch: string;
  /** Connections joined to the thread across the cluster when the event was routed. */
  onlineConnections: number;
  /** true when the idempotency key matched an earlier send; this receipt is that send's. */
  duplicate: boolean;
}

export interface UserDeliveryReceipt {
  messageId: string;
  userId: string;
}
