import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** What the gateway reports about this instance when the registry is scraped. */
export interface LocalGatewayState {
  connections: number;
  joinedThreads: number;
}

/**
 * The module's Prometheus metrics, in a registry of its own (not prom-client's global one),
 * so two apps in one process, or an app that has its own metrics, never collide. Labels are
 * kept to small fixed sets: no thread, run, user or connection ids, and no event types
 * (those are chosen by the application and unbounded).
 */
@Injectable()
export class RelayMetrics {
  readonly registry = new Registry();

  /** Sends that reached the log; `result` is `appended` or `duplicate` (idempotency key seen). */
  readonly eventsAppended = new Counter({
    name: 'relay_events_appended_total',
    help: 'Events appended to thread logs by this instance',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly eventsFannedOut = new Counter({
    name: 'relay_events_fanned_out_total',
    help: 'Appended events this instance published to joined connections on every instance',
    registers: [this.registry],
  });

  readonly eventsReplayed = new Counter({
    name: 'relay_events_replayed_total',
    help: 'Events re-sent from the log to connections joining with a cursor behind the head',
    registers: [this.registry],
  });

  readonly acks = new Counter({
    name: 'relay_acks_total',
    help: 'Cumulative thread:ack messages recorded by this instance',
    registers: [this.registry],
  });

  readonly resets = new Counter({
    name: 'relay_resets_total',
    help: 'thread:reset notices sent because a cursor could not be served',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  /** `source` is `send` (DeliveryService) or `socket` (a client request refused or failed). */
  readonly errors = new Counter({
    name: 'relay_errors_total',
    help: 'Failures by error code',
    labelNames: ['source', 'code'] as const,
    registers: [this.registry],
  });

  readonly appendSeconds = new Histogram({
    name: 'relay_append_duration_seconds',
    help: 'Time to append one event to its thread log',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  readonly deliverySeconds = new Histogram({
    name: 'relay_delivery_latency_seconds',
    help: 'From an event being created (its ts) to the acknowledgement that covers it',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });

  /** Server-Sent Events streams that ended, by why (a fixed set: see `StreamEnd`). */
  readonly sseStreamsEnded = new Counter({
    name: 'relay_sse_streams_ended_total',
    help: 'Server-Sent Events streams that ended, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  private localState: () => LocalGatewayState = () => ({ connections: 0, joinedThreads: 0 });
  private openSseStreams: () => number = () => 0;

  constructor() {
    // Gauges read the gateway's own bookkeeping when scraped, so they can never drift.
    const state = () => this.localState();
    new Gauge({
      name: 'relay_connections',
      help: 'Live socket.io connections on this instance',
      registers: [this.registry],
      collect() {
        this.set(state().connections);
      },
    });
    new Gauge({
      name: 'relay_joined_threads',
      help: 'Distinct threads joined by at least one connection on this instance',
      registers: [this.registry],
      collect() {
        this.set(state().joinedThreads);
      },
    });
    const sse = () => this.openSseStreams();
    new Gauge({
      name: 'relay_sse_streams',
      help: 'Open Server-Sent Events streams on this instance',
      registers: [this.registry],
      collect() {
        this.set(sse());
      },
    });
  }

  /** The SSE streams tell the gauge where to read; called once when they start. */
  observeSseStreams(read: () => number): void {
    this.openSseStreams = read;
  }

  /** The gateway tells the gauges where to read; called once when it attaches. */
  observeGateway(read: () => LocalGatewayState): void {
    this.localState = read;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
