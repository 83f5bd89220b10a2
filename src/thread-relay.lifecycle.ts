import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { type MessageLog } from './delivery/message-log.interface.js';
import { MESSAGE_LOG, REGISTRY_STORE, RELAY_REDIS } from './thread-relay.constants.js';
import type { RedisBackend } from './redis/redis-backend.js';
import { InstanceLivenessService } from './registry/instance-liveness.service.js';
import { type RegistryStore } from './registry/registry-store.interface.js';

/**
 * Starts and stops what the module owns, in order: liveness after bootstrap; on shutdown
 * (after the socket server has closed) liveness, then stores, then the Redis clients the
 * module created. Clients passed in by the user stay open.
 */
@Injectable()
export class ThreadRelayLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    private readonly liveness: InstanceLivenessService,
    @Inject(REGISTRY_STORE) private readonly store: RegistryStore,
    @Inject(MESSAGE_LOG) private readonly messages: MessageLog,
    @Inject(RELAY_REDIS) private readonly redis: RedisBackend | null,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.liveness.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.liveness.stop();
    await this.store.close();
    await this.messages.close();
    await this.redis?.close();
  }
}
