import { Samples } from './stats.js';
import type { StepStats } from './common.js';

/** What a client fleet counts for one step: latencies of its measured events, seq anomalies, acks. */
export class StepRecording {
  readonly samples = new Samples();
  duplicates = 0;
  gaps = 0;
  outOfOrder = 0;
  received = 0;
  acks = 0;

  constructor(readonly step: number) {}

  stats(): StepStats {
    return {
      latency: this.samples.summary(),
      received: this.received,
      duplicates: this.duplicates,
      gaps: this.gaps,
      outOfOrder: this.outOfOrder,
      acks: this.acks,
    };
  }
}
