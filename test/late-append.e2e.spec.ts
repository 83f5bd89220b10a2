import { Test } from '@nestjs/testing';
import {
  DeliveryService,
  jwtAuthenticator,
  MemoryMessageLog,
  MESSAGE_LOG,
  ThreadRegistryService,
  ThreadRelayModule,
  type AppendOptions,
  type AppendResult,
  type NewEvent,
} from '../src/index.js';
import { type ClusterBus } from '../src/cluster/cluster-bus.js';
import { CLUSTER_BUS } from '../src/thread-relay.constants.js';
import type { ThreadEvent } from '../src/protocol.js';
import { TEST_JWT_SECRET } from './support/relay-app.js';
import { waitUntil } from './support/wait-until.js';

const UNAVAILABLE_MS = 100;

/** A store that answers appends late, as a Redis too busy to reply within the bound. */
class SlowLog extends MemoryMessageLog {
  delayMs = 0;
  override async append(input: NewEvent, options?: AppendOptions): Promise<AppendResult> {
    await new Promise((r) => setTimeout(r, this.delayMs));
    return super.append(input, options);
  }
}

describe('an append that lands after the send was refused', () => {
  it('is still fanned out once, so clients need not wait for a later event', async () => {
    const log = new SlowLog({ ttlSeconds: 60, maxPerThread: 100 });
    const moduleRef = await Test.createTestingModule({
      imports: [
        ThreadRelayModule.forRoot({
          authenticate: jwtAuthenticator({ secret: TEST_JWT_SECRET }),
          delivery: { unavailableTimeoutMs: UNAVAILABLE_MS },
          logger: { log() {}, error() {}, warn() {}, debug() {}, verbose() {} },
        }),
      ],
    })
      .overrideProvider(MESSAGE_LOG)
      .useValue(log)
      .compile();
    try {
      const delivery = moduleRef.get(DeliveryService);
      const bus = moduleRef.get<ClusterBus>(CLUSTER_BUS);
      await moduleRef.get(ThreadRegistryService).registerThread('late-thread', 'lea');
      const published: ThreadEvent[] = [];
      const original = bus.announceAppended.bind(bus);
      bus.announceAppended = (event) => {
        published.push(event);
        original(event);
      };

      log.delayMs = 3 * UNAVAILABLE_MS;
      await expect(delivery.sendToThread('late-thread', 'slow', {})).rejects.toMatchObject({
        code: 'RELAY_UNAVAILABLE',
      });
      expect(published).toEqual([]);
      await waitUntil(() => published.length === 1, 'the late append to be fanned out', 2000);
      expect(published[0]).toMatchObject({ threadId: 'late-thread', seq: 1, type: 'slow' });

      log.delayMs = 0;
      const next = await delivery.sendToThread('late-thread', 'fast', {});
      expect(next.seq).toBe(2);
      expect(published.map((e) => e.seq)).toEqual([1, 2]);
    } finally {
      await moduleRef.close();
    }
  });
});
