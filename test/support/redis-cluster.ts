import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Child } from './child-process.js';
import { startRedisServer } from './own-redis-server.js';
import { INSTALL_HINT, redisServerOnPath } from './redis.global-setup.js';
import { waitUntil } from './wait-until.js';

/** A node's cluster bus listens on its port + 10000, which must be free too. */
const BUS_OFFSET = 10_000;

export interface ClusterNode {
  host: string;
  port: number;
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** `count` ports whose cluster bus ports (+10000) are free as well. */
async function clusterPorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) {
    // Below Linux's ephemeral range (32768-60999), bus ports included: a port checked free
    // here cannot be taken by an outgoing connection before the node binds it.
    const port = 20_000 + Math.floor(Math.random() * 2_700);
    if (ports.includes(port) || ports.includes(port + BUS_OFFSET)) continue;
    if ((await portIsFree(port)) && (await portIsFree(port + BUS_OFFSET))) ports.push(port);
  }
  return ports;
}

function cli(args: string[]): string {
  const result = spawnSync('redis-cli', args, { encoding: 'utf8', timeout: 30_000 });
  if (result.status !== 0) {
    throw new Error(`redis-cli ${args.join(' ')} failed: ${result.stderr || result.stdout}`);
  }
  return result.stdout;
}

/**
 * A real Redis Cluster of the test's own: `masters` masters with one replica each, on
 * free ports, no persistence, no Docker (`redis-server --cluster-enabled yes` and
 * `redis-cli --cluster create`). Nodes can be stopped and failed over; `dispose` kills
 * them all and removes their files. The shared Redis is never touched.
 */
export class OwnRedisCluster {
  private readonly children = new Map<number, Child>();
  private readonly dir = mkdtempSync(path.join(tmpdir(), 'relay-cluster-'));

  private constructor(readonly ports: number[]) {}

  static async start(masters = 3): Promise<OwnRedisCluster> {
    if (!redisServerOnPath()) throw new Error(INSTALL_HINT);
    const cluster = new OwnRedisCluster(await clusterPorts(masters * 2));
    try {
      for (const port of cluster.ports) await cluster.startNode(port);
      cli([
        '--cluster',
        'create',
        ...cluster.ports.map((port) => `127.0.0.1:${port}`),
        '--cluster-replicas',
        '1',
        '--cluster-yes',
      ]);
      await cluster.waitHealthy();
      // Replicas take their role a moment after the create: wait until every master has one.
      await waitUntil(
        () => cluster.roles().replicas.length >= masters,
        'the cluster replicas to attach',
        { timeoutMs: 20_000, intervalMs: 100 },
      );
      await cluster.waitReplicasInSync();
      return cluster;
    } catch (error) {
      await cluster.dispose();
      throw error;
    }
  }

  get nodes(): ClusterNode[] {
    return this.ports.map((port) => ({ host: '127.0.0.1', port }));
  }

  /** `host:port,host:port,...`, as `REDIS_CLUSTER_NODES` takes it. */
  get nodeList(): string {
    return this.nodes.map(({ host, port }) => `${host}:${port}`).join(',');
  }

  /** The ports of the masters and of the replicas, as the cluster sees them now. */
  roles(): { masters: number[]; replicas: number[] } {
    const [first] = this.ports;
    const masters: number[] = [];
    const replicas: number[] = [];
    for (const line of cli(['-p', String(first), 'cluster', 'nodes'])
      .trim()
      .split('\n')) {
      const [, address = '', flags = ''] = line.split(' ');
      if (flags.includes('fail')) continue;
      const port = Number(address.split('@')[0]?.split(':')[1]);
      if (flags.includes('master')) masters.push(port);
      else if (flags.includes('slave')) replicas.push(port);
    }
    return { masters: masters.sort(), replicas: replicas.sort() };
  }

  /** Every node answers and says `cluster_state:ok`. */
  async waitHealthy(timeoutMs = 20_000): Promise<void> {
    await waitUntil(
      () =>
        this.ports.every((port) => {
          if (!this.children.has(port)) return true;
          const info = spawnSync('redis-cli', ['-p', String(port), 'cluster', 'info'], {
            encoding: 'utf8',
          });
          return info.status === 0 && info.stdout.includes('cluster_state:ok');
        }),
      'the cluster to become healthy',
      { timeoutMs, intervalMs: 100 },
    );
  }

  /**
   * Every replica's link to its master is up and its first sync is done. Until then a
   * replica refuses `CLUSTER FAILOVER`, and a promoted one would not have its master's data.
   */
  async waitReplicasInSync(timeoutMs = 20_000): Promise<void> {
    await waitUntil(
      () =>
        this.roles().replicas.every((port) => {
          const info = spawnSync('redis-cli', ['-p', String(port), 'info', 'replication'], {
            encoding: 'utf8',
          }).stdout;
          return (
            info.includes('master_link_status:up') && info.includes('master_sync_in_progress:0')
          );
        }),
      'the cluster replicas to sync',
      { timeoutMs, intervalMs: 50 },
    );
  }

  /** SIGKILLs one node (a master's replica is then promoted after the node timeout). */
  async kill(port: number): Promise<void> {
    const child = this.children.get(port);
    if (!child?.running()) return;
    await child.kill();
    this.children.delete(port);
  }

  /**
   * Starts a stopped node again on its port with its own cluster config: it rejoins, as a
   * replica when its slots were failed over meanwhile.
   */
  async restart(port: number): Promise<void> {
    if (this.children.has(port)) throw new Error(`node ${port} is running`);
    await this.startNode(port);
  }

  async dispose(): Promise<void> {
    for (const port of [...this.children.keys()]) await this.kill(port);
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async startNode(port: number): Promise<void> {
    const args = [
      '--dir',
      this.dir,
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      `nodes-${port}.conf`,
      '--cluster-node-timeout',
      '2000',
      // A replica promotes itself however long ago it last heard its master: the default (10)
      // refuses when the replica has not synced since it became one, as right after a
      // graceful failover turned the old master into a replica.
      '--cluster-replica-validity-factor',
      '0',
      '--save',
      '',
      '--appendonly',
      'no',
      '--logfile',
      path.join(this.dir, `node-${port}.log`),
    ];
    this.children.set(port, await startRedisServer(port, args));
  }
}
