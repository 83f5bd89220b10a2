import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { type AccessChange, type ClusterBus } from '../cluster/cluster-bus.js';
import { CLUSTER_BUS, RELAY_OPTIONS } from '../thread-relay.constants.js';
import { errorText, RelayLogger } from '../thread-relay.logger.js';
import { type ResolvedRelayOptions } from '../thread-relay.options.js';

export type { AccessChange, AccessChangeReason } from '../cluster/cluster-bus.js';

export type AccessChangeListener = (change: AccessChange) => void;

/**
 * Announces that the set of users who may use a thread may have changed: it was
 * unregistered, its lease ran out, it was registered anew (perhaps to someone else), or
 * the application asked for its access to be checked again. The change goes out on the
 * thread's channel, so every process hosting the thread hears it, this one included (from
 * any process that changed it, a producer's too); the gateway re-checks its connections
 * joined to the thread. If it cannot be published, this process's listeners are told
 * directly, and the other instances check every thread again when their bus resyncs.
 */
@Injectable()
export class ThreadAccessChanges implements OnModuleDestroy {
  private readonly log: RelayLogger;
  private readonly listeners = new Set<AccessChangeListener>();
  private readonly stopListening: () => void;

  constructor(
    @Inject(CLUSTER_BUS) private readonly bus: ClusterBus,
    @Inject(RELAY_OPTIONS) options: ResolvedRelayOptions,
  ) {
    this.log = RelayLogger.for(ThreadAccessChanges.name, options);
    this.stopListening = bus.listen({ accessChange: (change) => this.notify(change) });
  }

  onModuleDestroy(): void {
    this.stopListening();
  }

  on(listener: AccessChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(change: AccessChange): void {
    this.bus.publishAccessChange(change).catch((error: unknown) => {
      this.log.warn({
        msg: 'access change not published; checked here only',
        threadId: change.threadId,
        reason: errorText(error),
      });
      this.notify(change);
    });
  }

  private notify(change: AccessChange): void {
    for (const listener of this.listeners) listener(change);
  }
}
