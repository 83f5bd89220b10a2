import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { ResolvedRelayOptions } from '../thread-relay.options.js';
import { isClusterClient, type RedisClient } from './redis-client.js';

/**
 * The subscriber connection skips ioredis's ready check (an INFO, which only tells whether
 * Redis is still loading its dataset; SUBSCRIBE is allowed while it loads anyway). A
 * SUBSCRIBE issued while the connection is still in its handshake (status `connect`), as
 * a join's can be right after startup, enters subscriber mode
 * before the ready check's INFO goes out: ioredis then refuses its own INFO, fails the
 * ready check and reconnects without the subscription (ioredis 5.8.2+, redis/ioredis#2037).
 * That instance would silently never hear another instance's events.
 */
const SUBSCRIBER: Partial<RedisOptions> = { enableReadyCheck: false };

/**
 * On a cluster the subscriber is a second Cluster client whose SSUBSCRIBEs ioredis routes
 * to one connection per master, by the channel's slot, and moves after a failover or a
 * slot migration. It refreshes the slot map every second (ioredis's default is 5), so a
 * graceful failover, which the subscriber learns of only from the map, is followed within
 * about a second.
 */
const SHARDED_SUBSCRIBER: Partial<ClusterOptions> = {
  shardedSubscribers: true,
  slotsRefreshInterval: 1_000,
};

/**
 * The Redis clients the module uses: `commands` for stores and publishing, `subscriber`
 * for the cluster bus (a subscribed connection cannot run commands). Clients the module
 * created are closed on shutdown; a client the user passed in is left open.
 */
export class RedisConnections {
  private constructor(
    readonly commands: RedisClient,
    readonly subscriber: RedisClient,
    private readonly ownsCommands: boolean,
    /** Only for appends confirmed by replicas (`delivery.replicaAcks`): `WAIT` blocks it. */
    readonly confirmed: RedisClient | null = null,
  ) {}

  static create(
    config: Exclude<ResolvedRelayOptions['redis'], { kind: 'none' }>,
    { confirmed = false }: { confirmed?: boolean } = {},
  ): RedisConnections {
    const base = RedisConnections.base(config);
    if (!confirmed) return base;
    const { commands } = base;
    const own = commands.duplicate();
    return new RedisConnections(commands, base.subscriber, base.ownsCommands, own);
  }

  private static base(
    config: Exclude<ResolvedRelayOptions['redis'], { kind: 'none' }>,
  ): RedisConnections {
    // No auto-pipelining: ioredis writes every command as soon as it is issued and never
    // waits for earlier replies, so concurrent sends are in flight together anyway. Its
    // pipeline objects made appends cost 12-19% more CPU and five times the young-generation
    // GC time (40,000 appends, 5 at a time), and GC pauses are what lengthen delivery p99.
    const defaults: RedisOptions = { enableAutoPipelining: false, lazyConnect: false };
    if (config.kind === 'client') {
      const base = config.client;
      return new RedisConnections(base, base.duplicate(SUBSCRIBER), false);
    }
    if (config.kind === 'cluster-client') {
      const base = config.client;
      return new RedisConnections(base, base.duplicate([], SHARDED_SUBSCRIBER), false);
    }
    if (config.kind === 'cluster') {
      const commands = new Cluster(config.nodes, { ...defaults, ...config.options });
      return new RedisConnections(commands, commands.duplicate([], SHARDED_SUBSCRIBER), true);
    }
    const commands =
      config.kind === 'url'
        ? new Redis(config.url, defaults)
        : new Redis({ ...defaults, ...config.options });
    return new RedisConnections(commands, commands.duplicate(SUBSCRIBER), true);
  }

  /** True on Redis Cluster: one slot per script and transaction, sharded pub/sub. */
  get clustered(): boolean {
    return isClusterClient(this.commands);
  }

  /** Resolves once the command connection is ready, or rejects after `timeoutMs`. */
  async waitReady(timeoutMs: number): Promise<void> {
    if (this.commands.status === 'ready') return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`Redis not ready after ${timeoutMs} ms (status ${this.commands.status})`));
      }, timeoutMs);
      const onReady = () => {
        cleanup();
        resolve();
      };
      const cleanup = () => {
        clearTimeout(timer);
        this.commands.off('ready', onReady);
      };
      this.commands.on('ready', onReady);
    });
  }

  async close(): Promise<void> {
    const owned = [
      this.subscriber,
      ...(this.confirmed ? [this.confirmed] : []),
      ...(this.ownsCommands ? [this.commands] : []),
    ];
    await Promise.all(
      owned.map(async (client) => {
        if (client.status === 'end') return;
        try {
          await client.quit();
        } catch {
          client.disconnect();
        }
      }),
    );
  }
}
