import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { type ClusterBus } from '../cluster/cluster-bus.js';
import { CLUSTER_BUS } from '../thread-relay.constants.js';
import { ServerEvents } from '../protocol.js';
import { LocalSockets } from '../sockets/local-sockets.js';

/**
 * Events for a user outside any thread (`sendToUser`): this instance hears a user's while
 * one of the user's connections is here, and sends them to the user's local room.
 */
@Injectable()
export class LiveUserEvents implements OnModuleDestroy {
  private readonly stopListening: () => void;

  constructor(
    @Inject(CLUSTER_BUS) private readonly bus: ClusterBus,
    sockets: LocalSockets,
  ) {
    this.stopListening = bus.listen({
      userEvent: (event) => sockets.emitToUser(event.userId, ServerEvents.userEvent, event),
    });
  }

  onModuleDestroy(): void {
    this.stopListening();
  }

  /** A connection of the user is here; match with `unwatch` when it goes. */
  watch(userId: string): Promise<void> {
    return this.bus.watchUser(userId);
  }

  unwatch(userId: string): void {
    this.bus.unwatchUser(userId);
  }
}
