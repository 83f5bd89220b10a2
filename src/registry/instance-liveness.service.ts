import { Inject, Injectable } from '@nestjs/common';
import { RelayLogger } from '../thread-relay.logger.js';
import { type ResolvedRelayOptions } from '../thread-relay.options.js';
import { REGISTRY_STORE, RELAY_OPTIONS } from '../thread-relay.constants.js';
import { type RegistryStore } from './registry-store.interface.js';
import { ThreadRegistryService } from './thread-registry.service.js';

/**
 * Keeps this instance's liveness key fresh and removes the connections of instances whose
 * key lapsed (killed without a clean shutdown), so the registry never keeps ghosts for
 * longer than `liveness.ttlMs` plus one heartbeat. (Nothing it stored can be left
 * unannounced: the append announces the event in the same step.)
 */
@Injectable()
export class InstanceLivenessService {
  private readonly log: RelayLogger;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(
    @Inject(REGISTRY_STORE) private readonly store: RegistryStore,
    @Inject(RELAY_OPTIONS) private readonly options: ResolvedRelayOptions,
    private readonly registry: ThreadRegistryService,
  ) {
    this.log = RelayLogger.for(InstanceLivenessService.name, options);
  }

  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.beat().finally(() => {
        this.running = null;
      });
    }, this.options.liveness.heartbeatMs);
    this.timer.unref();
  }

  /**
   * One heartbeat plus the sweeps (dead instances, lapsed thread leases); exposed so tests
   * can drive it without waiting.
   */
  async beat(): Promise<void> {
    try {
      await this.store.heartbeatInstance(this.options.instanceId, this.options.liveness.ttlMs);
      for (const dead of await this.store.deadInstances()) {
        if (dead === this.options.instanceId) continue;
        const removed = await this.store.removeInstance(dead);
        this.log.warn({ msg: 'dead instance swept', instanceId: dead, connections: removed });
      }
      await this.registry.sweepExpiredThreads();
    } catch (error) {
      this.log.error(
        { msg: 'liveness heartbeat failed', instanceId: this.options.instanceId },
        error,
      );
    }
  }

  /** Stops the timer and removes this instance's entries (a clean leave). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
    try {
      const removed = await this.store.removeInstance(this.options.instanceId);
      this.log.info({
        msg: 'instance left',
        instanceId: this.options.instanceId,
        connections: removed,
      });
    } catch (error) {
      this.log.error({ msg: 'instance leave failed', instanceId: this.options.instanceId }, error);
    }
  }
}
