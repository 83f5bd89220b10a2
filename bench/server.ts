/**
 * One server instance of the benchmark, forked by the orchestrator (`--expose-gc`).
 * Modes: `plain` / `plain-redis` (the socket.io baseline of bench/socketio-baseline.mjs,
 * with the Redis adapter in `plain-redis`) and `relay-memory` / `relay-redis` (a Nest app
 * with ThreadRelayModule).
 * The in-server producer runs in this process (bench/produce.ts): events are handed to
 * `io.to(room).emit` or to `DeliveryService.sendToThread`; bench/producer.ts is the
 * producer in a process of its own.
 */
import 'reflect-metadata';
import type { Server as HttpServer } from 'node:http';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { PerformanceObserver } from 'node:perf_hooks';
import type { AddressInfo } from 'node:net';
import type { ClusterBus } from '../src/cluster/cluster-bus.js';
import { burst, produce } from './produce.js';
import { serveRpc } from './rpc.js';
import {
  BENCH_JWT_SECRET,
  benchPayload,
  EVENT_TYPE,
  plainEvents,
  sleep,
  type BurstRequest,
  type ClusterNode,
  type CpuSample,
  type MemorySample,
  type Mode,
  type ProduceRequest,
} from './common.js';

interface StartRequest {
  mode: Mode;
  redisUrl: string;
  /** Given: thread-relay on this Redis Cluster instead of `redisUrl`. */
  redisCluster?: ClusterNode[];
  keyPrefix: string;
  instanceId: string;
}

/** What the producer needs from a server, whatever its kind. */
interface Target {
  url: string;
  /** Sends one event; a promise when the send is asynchronous (thread-relay). */
  send(threadId: string, step: number, measured: boolean): Promise<unknown> | void;
  connections(): number;
  /** Diagnostics: adapter, Redis client states, events received from other instances. */
  diag(): Record<string, unknown> | Promise<Record<string, unknown>>;
  /** Resolves once commands queued before it have been answered (Redis modes). */
  settle(): Promise<void>;
  close(): Promise<void>;
}

let target: Target | null = null;

async function startPlain(request: StartRequest): Promise<Target> {
  const { startSocketIoBaseline } = await import('./socketio-baseline.mjs');
  const baseline = await startSocketIoBaseline({
    redisUrl: request.mode === 'plain-redis' ? request.redisUrl : undefined,
    keyPrefix: request.keyPrefix,
  });
  const adapterClients = baseline.redis;
  let remoteBroadcasts = 0;
  adapterClients?.sub.on('messageBuffer', () => (remoteBroadcasts += 1));
  adapterClients?.sub.on('pmessageBuffer', () => (remoteBroadcasts += 1));
  const nextEvent = plainEvents();
  return {
    url: baseline.url,
    send(threadId, step, measured) {
      baseline.emitToThread(threadId, nextEvent(threadId, step, measured));
    },
    connections: () => baseline.connections(),
    settle: async () => {
      await adapterClients?.pub.ping();
    },
    diag: () => ({
      adapter: baseline.io.of('/').adapter.constructor.name,
      redisStatus: adapterClients ? [adapterClients.pub.status, adapterClients.sub.status] : [],
      remoteMessages: remoteBroadcasts,
    }),
    close: () => baseline.close(),
  };
}

async function startRelay(request: StartRequest): Promise<Target> {
  const { Module } = await import('@nestjs/common');
  const { NestFactory } = await import('@nestjs/core');
  const relay = await import('../src/index.js');
  const { LocalSockets } = await import('../src/sockets/local-sockets.js');
  const { CLUSTER_BUS } = await import('../src/thread-relay.constants.js');
  const redisOption = request.redisCluster ? { cluster: request.redisCluster } : request.redisUrl;
  const redis =
    request.mode === 'relay-redis' ? { redis: redisOption, keyPrefix: request.keyPrefix } : {};
  class BenchAppModule {}
  Module({
    imports: [
      relay.ThreadRelayModule.forRoot({
        authenticate: relay.jwtAuthenticator({ secret: BENCH_JWT_SECRET }),
        instanceId: request.instanceId,
        ...redis,
      }),
    ],
  })(BenchAppModule);
  const app = await NestFactory.create(BenchAppModule, {
    logger: ['error', 'warn'],
    abortOnError: false,
  });
  app.useWebSocketAdapter(new relay.RelayIoAdapter(app));
  await app.listen(0, '127.0.0.1');
  const http = app.getHttpServer() as HttpServer;
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const delivery = app.get(relay.DeliveryService);
  const sockets = app.get(LocalSockets);
  const bus = app.get<symbol, ClusterBus>(CLUSTER_BUS);
  // Live events this instance heard on the cluster bus (its own included in Redis mode).
  let busEvents = 0;
  bus.listen({ threadEvent: () => (busEvents += 1) });
  return {
    url,
    send: (threadId, step, measured) =>
      delivery.sendToThread(threadId, EVENT_TYPE, benchPayload(step, measured)),
    connections: () => sockets.namespace?.sockets.size ?? 0,
    // Behind every command already queued on the module's Redis connection. A cluster has
    // one per master: probe threads 0-3 hash to slots 14865, 10800, 6739 and 2674, one in
    // each master's share of an evenly split 3- (or 4-) master cluster.
    settle: async () => {
      const registry = app.get(relay.ThreadRegistryService);
      const probes = request.redisCluster ? 4 : 1;
      await Promise.all(
        Array.from({ length: probes }, (_, i) => registry.getThread(`bench-settle-probe-${i}`)),
      );
    },
    diag: () => ({
      adapter: sockets.namespace?.adapter.constructor.name,
      watchedChannels: bus.watchedChannels,
      busEvents,
    }),
    close: () => app.close(),
  };
}

function current(): Target {
  if (!target) throw new Error('server not started');
  return target;
}

async function memory(): Promise<MemorySample> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('start the server with --expose-gc');
  for (let i = 0; i < 3; i++) {
    gc();
    await sleep(200);
  }
  const usage = process.memoryUsage();
  return {
    rss: usage.rss,
    heapUsed: usage.heapUsed,
    heapTotal: usage.heapTotal,
    external: usage.external,
    arrayBuffers: usage.arrayBuffers,
    connections: current().connections(),
  };
}

/** Garbage-collection pauses since the last `gc` call: a common cause of latency spikes. */
const gcStats = { count: 0, totalMs: 0, maxMs: 0 };
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    gcStats.count += 1;
    gcStats.totalMs += entry.duration;
    gcStats.maxMs = Math.max(gcStats.maxMs, entry.duration);
  }
}).observe({ entryTypes: ['gc'] });

/**
 * `--alloc-profile`: samples every allocation, including objects the GC already freed
 * (`--heap-prof` keeps only what is still alive at exit), and writes a .heapprofile on stop.
 */
const allocationProfile = process.env.BENCH_ALLOC_PROFILE;
const profiler = allocationProfile ? new Session() : null;
if (profiler) {
  profiler.connect();
  await profiler.post('HeapProfiler.startSampling', {
    samplingInterval: 16_384,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
}

serveRpc({
  start: async (request: StartRequest) => {
    target = request.mode.startsWith('relay')
      ? await startRelay(request)
      : await startPlain(request);
    return { url: target.url };
  },
  produce: (request: ProduceRequest) => {
    const server = current();
    return produce(server.send.bind(server), request);
  },
  burst: (request: BurstRequest) => {
    const server = current();
    return burst(server.send.bind(server), request);
  },
  memory,
  connections: () => current().connections(),
  diag: () => current().diag(),
  settle: () => current().settle(),
  gc: () => {
    const stats = {
      count: gcStats.count,
      totalMs: Math.round(gcStats.totalMs),
      maxMs: Math.round(gcStats.maxMs * 10) / 10,
      heapUsedMiB: Math.round(process.memoryUsage().heapUsed / 1024 / 1024),
    };
    Object.assign(gcStats, { count: 0, totalMs: 0, maxMs: 0 });
    return stats;
  },
  cpu: (): CpuSample => {
    const usage = process.cpuUsage();
    return { cpuMicros: usage.user + usage.system, at: performance.now() };
  },
  stop: async () => {
    const closing = target?.close();
    target = null;
    await Promise.race([closing, sleep(5_000)]);
    if (profiler && allocationProfile) {
      const { profile } = await profiler.post('HeapProfiler.stopSampling');
      writeFileSync(`${allocationProfile}-${process.pid}.heapprofile`, JSON.stringify(profile));
    }
    // Exit after the answer is on its way; --cpu-prof writes its profile on exit.
    setTimeout(() => process.exit(0), 50);
  },
});
