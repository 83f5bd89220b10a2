import type { ThreadEvent } from '../protocol.js';
import { ThreadRelayClientError } from './client-error.js';
import type {
  ClientStatus,
  ClientTransport,
  ThreadResetEvent,
  UserEvent,
} from './client.options.js';
import { Listeners } from './listeners.js';
import type { TimerSet } from './timer-set.js';

/**
 * What the client tells the application: its status and transport, and everything the
 * `on...` handlers hear. A handler that throws is reported through `onError` and stops
 * nothing; an `onError` handler that throws has nowhere left to report to.
 */
export class ClientSignals {
  readonly events = new Listeners<ThreadEvent>();
  readonly resets = new Listeners<ThreadResetEvent>();
  readonly statuses = new Listeners<ClientStatus>();
  readonly transports = new Listeners<ClientTransport | null>();
  readonly errors = new Listeners<ThreadRelayClientError>();
  readonly userEvents = new Listeners<UserEvent>();
  private readonly statusWaiters = new Set<() => void>();
  private statusValue: ClientStatus = 'idle';
  private transportValue: ClientTransport | null = null;

  constructor(private readonly timers: TimerSet) {}

  get status(): ClientStatus {
    return this.statusValue;
  }

  get transport(): ClientTransport | null {
    return this.transportValue;
  }

  setStatus(next: ClientStatus): void {
    if (this.statusValue === next) return;
    this.statusValue = next;
    this.statuses.emit(next, (error) => this.handlerFailed('onStatus', error));
    for (const wake of [...this.statusWaiters]) wake();
  }

  setTransport(next: ClientTransport | null): void {
    if (this.transportValue === next) return;
    this.transportValue = next;
    this.transports.emit(next, (error) => this.handlerFailed('onTransport', error));
  }

  /** Resolves on the next status change, or after `ms`. */
  waitForStatusChange(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.statusWaiters.delete(done);
        cancel();
        resolve();
      };
      const cancel = this.timers.after(ms, done);
      this.statusWaiters.add(done);
    });
  }

  event(event: ThreadEvent, threadId: string): void {
    this.events.emit(event, (error) => this.handlerFailed('onEvent', error, threadId));
  }

  reset(reset: ThreadResetEvent, threadId: string): void {
    this.resets.emit(reset, (error) => this.handlerFailed('onReset', error, threadId));
  }

  userEvent(event: UserEvent): void {
    this.userEvents.emit(event, (error) => this.handlerFailed('onUserEvent', error));
  }

  reportError(error: ThreadRelayClientError): void {
    this.errors.emit(error, () => undefined);
  }

  /** Forgets every handler (the client closed). */
  clear(): void {
    for (const listeners of [
      this.events,
      this.resets,
      this.statuses,
      this.transports,
      this.errors,
      this.userEvents,
    ]) {
      listeners.clear();
    }
  }

  private handlerFailed(kind: string, error: unknown, threadId?: string): void {
    const detail = error instanceof Error ? error.message : String(error);
    this.reportError(
      new ThreadRelayClientError('HANDLER_FAILED', `${kind} handler threw: ${detail}`, {
        cause: error,
        threadId,
        retryable: false,
      }),
    );
  }
}
