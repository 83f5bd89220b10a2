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
  readonly eventsAppended = this.counter(
    'relay_events_appended_total',
    'Events appended to thread logs by this instance',
    ['result'],
  );

  readonly eventsFannedOut = this.counter(
    'relay_events_fanned_out_total',
    'Appended events this instance published to joined connections on every instance',
  );

  readonly eventsReplayed = this.counter(
    'relay_events_replayed_total',
    'Events re-sent from the log to connections joining with a cursor behind the head',
  );

  readonly acks = this.counter(
    'relay_acks_total',
    'Cumulative thread:ack messages recorded by this instance',
  );

  readonly resets = this.counter(
    'relay_resets_total',
    'thread:reset notices sent because a cursor could not be served',
    ['reason'],
  );

  /** `source` is `send` (DeliveryService) or `socket` (a client request refused or failed). */
  readonly errors = this.counter('relay_errors_total', 'Failures by error code', [
    'source',
    'code',
  ]);

  readonly appendSeconds = this.histogram(
    'relay_append_duration_seconds',
    'Time to append one event to its thread log',
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  );

  readonly deliverySeconds = this.histogram(
    'relay_delivery_latency_seconds',
    'From an event being created (its ts) to the acknowledgement that covers it',
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  );

  /** Server-Sent Events streams that ended, by why (a fixed set: see `StreamEnd`). */
  readonly sseStreamsEnded = this.counter(
    'relay_sse_streams_ended_total',
    'Server-Sent Events streams that ended, by reason',
    ['reason'],
  );

  private localState: () => LocalGatewayState = () => ({ connections: 0, joinedThreads: 0 });
  private openSseStreams: () => number = () => 0;

  constructor() {
    this.gauge(
      'relay_connections',
      'Live socket.io connections on this instance',
      () => this.localState().connections,
    );
    this.gauge(
      'relay_joined_threads',
      'Distinct threads joined by at least one connection on this instance',
      () => this.localState().joinedThreads,
    );
    this.gauge('relay_sse_streams', 'Open Server-Sent Events streams on this instance', () =>
      this.openSseStreams(),
    );
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

  private counter<L extends string = never>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
  ): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  private histogram(name: string, help: string, buckets: number[]): Histogram {
    return new Histogram({ name, help, buckets, registers: [this.registry] });
  }

  /** A gauge read when scraped, from what the instance keeps anyway, so it can never drift. */
  private gauge(name: string, help: string, read: () => number): void {
    new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.set(read());
      },
    });
  }
}
