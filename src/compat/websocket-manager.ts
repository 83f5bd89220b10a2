import { Injectable } from '@nestjs/common';
import { DeliveryService } from '../delivery/delivery.service.js';
import type { DeliveryReceipt, SendOptions } from '../delivery/delivery.types.js';

/** Stable code of the warning, for `process.on('warning')` filters and `--no-deprecation` users. */
export const SEND_MESSAGE_DEPRECATION_CODE = 'THREAD_RELAY_DEP0001';

let warned = false;

function warnOnce(alias: string): void {
  if (warned) return;
  warned = true;
  process.emitWarning(
    `WebSocketManager.${alias}() is deprecated; call sendToThread(threadOrRunId, type, payload) instead.`,
    { type: 'DeprecationWarning', code: SEND_MESSAGE_DEPRECATION_CODE },
  );
}

/**
 * The interface older producers were written against. `sendMessage` and `send_message`
 * existed on some managers and not others, which is how a caller ended up with an
 * AttributeError; here all three names work and deliver the same way.
 */
@Injectable()
export class WebSocketManager {
  constructor(private readonly delivery: DeliveryService) {}

  sendToThread(
    threadOrRunId: string,
    type: string,
    payload: unknown,
    options?: SendOptions,
  ): Promise<DeliveryReceipt> {
    return this.delivery.sendToThread(threadOrRunId, type, payload, options);
  }

  /** @deprecated Use `sendToThread`. */
  sendMessage(
    threadOrRunId: string,
    type: string,
    payload: unknown,
    options?: SendOptions,
  ): Promise<DeliveryReceipt> {
    warnOnce('sendMessage');
    return this.sendToThread(threadOrRunId, type, payload, options);
  }

  /** @deprecated Use `sendToThread`. */
  send_message(
    threadOrRunId: string,
    type: string,
    payload: unknown,
    options?: SendOptions,
  ): Promise<DeliveryReceipt> {
    warnOnce('send_message');
    return this.sendToThread(threadOrRunId, type, payload, options);
  }
}
