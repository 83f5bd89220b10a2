import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { type MessageLog } from '../delivery/message-log.interface.js';
import { MESSAGE_LOG, REGISTRY_STORE, RELAY_REDIS } from '../thread-relay.constants.js';
import type { RedisBackend } from '../redis/redis-backend.js';
import { type RegistryStore } from '../registry/registry-store.interface.js';

/** Closes the stores, then the Redis clients the module created (a client passed in stays open). */
@Injectable()
export class ProducerLifecycle implements OnApplicationShutdown {
  constructor(
    @Inject(REGISTRY_STORE) private readonly store: RegistryStore,
    @Inject(MESSAGE_LOG) private readonly messages: MessageLog,
    @Inject(RELAY_REDIS) private readonly redis: RedisBackend | null,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.store.close();
    await this.messages.close();
    await this.redis?.close();
  }
}
