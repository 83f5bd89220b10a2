import type { Socket } from 'socket.io-client';
import type { AckSender } from './ack-batcher.js';
import { type ThreadRelayClientError, toClientError } from './client-error.js';
import type { JoinedThread } from './joined-thread.js';
import type { RelaySocketApi } from './relay-socket-api.js';

export interface SocketAckHost {
  thread(threadId: string): JoinedThread | undefined;
  /** The live socket, when the thread is joined on its connection; else `null`. */
  socketOf(thread: JoinedThread): Socket | null;
  api: RelaySocketApi;
  reportError(error: ThreadRelayClientError): void;
}

/**
 * Sends the `AckBatcher`'s acks over the socket. Acks ask for no answer: the server then
 * writes back only a refusal (`relay:error`, reported through `onError`), which saves a
 * frame each way per ack. An ack lost with its connection is not resent: the next join
 * resumes from `lastSeq`, and the server raises the cursor that far. Before a leave or a
 * close the ack is confirmed instead (`confirm`), since nothing follows it on this
 * connection.
 */
export function socketAckSender(host: SocketAckHost): AckSender {
  return async (threadId, seq, confirm) => {
    const thread = host.thread(threadId);
    const socket = thread ? host.socketOf(thread) : null;
    if (!thread || !socket) return false;
    // The epoch tells the server which log `seq` counts in, so a late ack cannot move the
    // cursor of a log that replaced it.
    const { epoch } = thread.stream.cursor.position();
    const ack = epoch === '' ? { threadId, seq } : { threadId, seq, epoch };
    if (!confirm) {
      host.api.ack(socket, ack);
      return true;
    }
    try {
      await host.api.confirmAck(socket, ack);
      return true;
    } catch (error) {
      const failure = toClientError(error, 'INTERNAL', `ack ${threadId}`, threadId);
      if (failure.retryable) return false;
      // A refused ack would be refused again; the next delivery acks anew.
      host.reportError(failure);
      return true;
    }
  };
}
