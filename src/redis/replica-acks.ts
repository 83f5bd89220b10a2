import type { Redis } from 'ioredis';
import { RelayUnavailableError } from '../errors/relay-unavailable.error.js';
import { isClusterClient, type RedisClient } from './redis-client.js';

/** What `delivery.replicaAcks` needs: its own client, and how many replicas within how long. */
export interface ReplicaAcksConfig {
  replicas: number;
  timeoutMs: number;
  /**
   * A client used for nothing but confirmed appends: `WAIT` blocks the connection it runs
   * on, which must not hold up heartbeats, joins and reads.
   */
  client: RedisClient;
}

interface Waiting {
  resolve(acknowledged: number): void;
  reject(error: unknown): void;
}

interface Queue {
  sending: boolean;
  next: Waiting[];
}

/**
 * Confirms appends on replicas with `WAIT`, which counts the writes of the connection it
 * runs on: on one Redis the client itself, on a cluster the client's connection to the
 * master that ran the append, found by the node id the append script returns (so a write
 * that an ASK redirection sent to another node is confirmed there, not on the slot's old
 * owner). One WAIT per connection at a time confirms every append answered before it was
 * sent; appends answered meanwhile wait for the next one (group commit).
 */
export class ReplicaAcks {
  private readonly queues = new Map<Redis, Queue>();
  private readonly ids = new WeakMap<Redis, Promise<string>>();

  constructor(readonly config: ReplicaAcksConfig) {}

  /** Whether appends must report the node that ran them (`CLUSTER MYID` in the script). */
  get needsNodeId(): boolean {
    return isClusterClient(this.config.client);
  }

  /** Resolves once enough replicas hold what `node` (a cluster node id; null on one Redis) wrote. */
  async confirm(node: string | null): Promise<void> {
    const { replicas, timeoutMs } = this.config;
    const writer = await this.writer(node);
    const acknowledged = await this.waitOn(writer);
    if (acknowledged < replicas) {
      throw new RelayUnavailableError(
        `append: stored, but ${acknowledged} of ${replicas} replicas confirmed it within ${timeoutMs} ms (delivery.replicaAcks); it could be lost in a failover: retry with the same idempotency key`,
      );
    }
  }

  private async writer(node: string | null): Promise<Redis> {
    const { client } = this.config;
    if (!isClusterClient(client)) return client;
    for (const connection of client.nodes('all')) {
      if ((await this.idOf(connection).catch(() => null)) === node) return connection;
    }
    throw new RelayUnavailableError(
      'append: stored, but the node that ran it is not among the client’s connections (topology change); retry with the same idempotency key',
    );
  }

  private idOf(connection: Redis): Promise<string> {
    let id = this.ids.get(connection);
    if (!id) {
      id = connection.call('CLUSTER', 'MYID').then(String);
      // A failed lookup is tried again next time.
      id.catch(() => this.ids.delete(connection));
      this.ids.set(connection, id);
    }
    return id;
  }

  private waitOn(writer: Redis): Promise<number> {
    let queue = this.queues.get(writer);
    if (!queue) {
      queue = { sending: false, next: [] };
      this.queues.set(writer, queue);
    }
    const pending = new Promise<number>((resolve, reject) => queue.next.push({ resolve, reject }));
    if (!queue.sending) this.send(writer, queue);
    return pending;
  }

  private send(writer: Redis, queue: Queue): void {
    const batch = queue.next;
    queue.next = [];
    queue.sending = true;
    writer.wait(this.config.replicas, this.config.timeoutMs).then(
      (acknowledged) => {
        for (const waiting of batch) waiting.resolve(acknowledged);
        this.sent(writer, queue);
      },
      (error: unknown) => {
        for (const waiting of batch) waiting.reject(error);
        this.sent(writer, queue);
      },
    );
  }

  private sent(writer: Redis, queue: Queue): void {
    queue.sending = false;
    if (queue.next.length > 0) this.send(writer, queue);
    else this.queues.delete(writer);
  }
}
