import type { LoggerService } from '@nestjs/common';
import type { Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis';
import type { ThreadRecord } from './thread-record.js';

/** What `authenticate` sees of a socket.io handshake or an HTTP request. */
export interface AuthRequest {
  /** `auth.token` of the handshake, or the Bearer token of an HTTP request. */
  token: string | undefined;
  headers: Record<string, string | string[] | undefined>;
  transport: 'socket' | 'http';
  address?: string;
}

export interface AuthenticatedUser {
  userId: string;
  /**
   * When the credential stops being valid (epoch ms). A live connection is told
   * `TOKEN_EXPIRED` and closed then, unless the client renewed it with `auth:refresh`.
   * Absent: the credential does not expire.
   */
  expiresAt?: number;
}

export type Authenticate = (
  request: AuthRequest,
) => Promise<AuthenticatedUser | null> | AuthenticatedUser | null;

export type ThreadAction = 'join' | 'read' | 'write';

/**
 * Decides whether `userId` may act on a thread. `thread` is null for an unregistered
 * thread. Without a hook, only the owner may.
 */
export type ThreadAccessHook = (
  userId: string,
  threadId: string,
  thread: ThreadRecord | null,
  action: ThreadAction,
) => Promise<boolean> | boolean;

/** A message a user sent into a thread (socket `user:message` or `POST /threads/:id/messages`). */
export interface UserMessage {
  userId: string;
  threadId: string;
  text: string;
  clientMessageId: string;
  seq: number;
  messageId: string;
}

export type UserMessageHandler = (message: UserMessage) => Promise<void> | void;

/** The `redis` option's Redis Cluster form: seed nodes (a few suffice), and ioredis `ClusterOptions`. */
export interface RedisClusterConfig {
  cluster: { host: string; port: number }[];
  options?: ClusterOptions;
}

export interface ThreadRelayModuleOptions {
  /**
   * Redis URL, ioredis options, or an ioredis client (not closed by the module); for Redis
   * Cluster, `{ cluster: [{ host, port }, ...], options? }` or an ioredis `Cluster` (not
   * closed by the module either). Absent: in-memory, one process.
   */
  redis?: string | RedisOptions | Redis | RedisClusterConfig | Cluster;
  /** Prepended to every Redis key; lets several deployments share one Redis. */
  keyPrefix?: string;
  /** Names this process in the registry; defaults to `<hostname>-<pid>-<random>`. */
  instanceId?: string;
  /** Turns a handshake or request into a user; null refuses it. Required. */
  authenticate: Authenticate;
  threadAccess?: ThreadAccessHook;
  /** Joining an unregistered thread registers it to the joining user (default true). */
  autoRegisterThreads?: boolean;
  history?: {
    /** Seconds a thread's log lives after its last event (default 86400). */
    ttlSeconds?: number;
    /** Events kept per thread (default 1000). */
    maxPerThread?: number;
    /**
     * Seconds an auto-registered thread stays registered after its last use (join, read,
     * write, event); threads the application registers never expire (default: ttlSeconds).
     */
    autoThreadTtlSeconds?: number;
  };
  /** Per-connection and per-user limits; every one has a safe default. */
  limits?: {
    /**
     * Client events per connection, as a token bucket (defaults 200 per second, burst 400);
     * a connection refused more than ten times `burst` events in a minute is disconnected.
     */
    clientEvents?: { perSecond?: number; burst?: number };
    /** Connections a user may open per minute on each instance (defaults 60, burst 20). */
    connectionAttempts?: { perMinute?: number; burst?: number };
    /** Bytes of log a user may read per second on each instance, history and replays (defaults 4 MiB, burst 16 MiB). */
    readBytes?: { perSecond?: number; burst?: number };
    /** Requests to the user routes per user, on each instance (defaults 100 per second, burst 200). */
    httpRequests?: { perSecond?: number; burst?: number };
    /**
     * Requests to the `/v1` producer routes per producer key, on each instance (defaults 1000
     * per second, burst 2000). A request costs one token; a `POST /v1/events` batch costs one
     * per event (at least one, at most `burst`, so a full batch always fits an idle bucket),
     * so batching saves round trips, not quota. Over the limit: 429 `RATE_LIMITED` with
     * `Retry-After`, nothing done.
     */
    producerRequests?: { perSecond?: number; burst?: number };
    /** User messages (socket and REST) per user, over every instance (defaults 30 per minute, burst 10). */
    userMessages?: { perMinute?: number; burst?: number };
    /** Threads one connection may have joined at once (default 200). */
    joinedThreadsPerConnection?: number;
    /** Joins one connection may have in progress (replaying) at once (default 4). */
    concurrentJoinsPerConnection?: number;
    /** Connections one user may hold at once, over every instance (default 20). */
    connectionsPerUser?: number;
    /** Live auto-registered threads one user may own (default 1000). */
    autoRegisteredThreadsPerUser?: number;
  };
  /** Server-Sent Events streams (`GET /threads/:threadId/events`). */
  sse?: {
    /** A comment line this often keeps proxies from closing an idle stream (default 15000). */
    heartbeatMs?: number;
  };
  /** How much unsent data a connection (socket.io or SSE) may hold before it is paused or cut. */
  backpressure?: {
    /** A replay waits while the connection has more than this unsent, and reads pages of about this size (default 256 KiB). */
    highWaterBytes?: number;
    /** A connection with more than this unsent is cut as a slow consumer (default 4 MiB). */
    maxBufferedBytes?: number;
    /** A replay that stays paused this long cuts the connection as a slow consumer (default 30000). */
    stallTimeoutMs?: number;
  };
  gateway?: {
    /** socket.io namespace (default '/'). */
    namespace?: string;
    /** socket.io path (default '/socket.io'). */
    path?: string;
    /** Allowed browser origins; '*' allows any (default: none, same-origin only). */
    corsOrigins?: string[] | '*';
    pingIntervalMs?: number;
    pingTimeoutMs?: number;
    /** Largest socket.io frame accepted from a client (default 128 KiB, or delivery.maxEventBytes + 16 KiB if larger). */
    maxPayloadBytes?: number;
  };
  delivery?: {
    /** Largest serialised event payload accepted by `sendToThread` (default 64 KiB). */
    maxEventBytes?: number;
    /** How long a send waits for an unreachable Redis before `RELAY_UNAVAILABLE` (default 5000). */
    unavailableTimeoutMs?: number;
    /**
     * Replicas that must hold an event before its send resolves (Redis `WAIT`, within half
     * of `unavailableTimeoutMs`; fewer: `RELAY_UNAVAILABLE`, the event stays stored and a retry
     * with the same idempotency key finds it). Default 0: Redis replicates asynchronously,
     * so an acknowledged event can be lost if its master dies before a replica has it.
     */
    replicaAcks?: number;
  };
  liveness?: {
    /** How often an instance refreshes its liveness key (default 5000). */
    heartbeatMs?: number;
    /** Liveness key TTL; a dead instance's connections leave the registry within about this plus one heartbeat (default 15000). */
    ttlMs?: number;
  };
  debug?: {
    /**
     * Enables `/debug/websocket/*` for requests sending `Authorization: Bearer <adminToken>`
     * (at least 16 characters); absent = those routes answer 404 (unless loopback access
     * below lets local clients in).
     */
    adminToken?: string;
    /**
     * Serves the debug routes without a token to clients on this machine (default false),
     * for development servers: the TCP peer is 127.0.0.0/8 or ::1 (never a forwarding
     * header), and the request sends no `Authorization` header, no forwarding header
     * (a local proxy relays someone else), a localhost or loopback Host, and is no
     * browser request from another site or origin. Every other request still needs
     * `adminToken` (404 without one configured). Never turn it on where a local proxy or
     * tunnel forwards remote clients to the port without such headers.
     */
    allowLoopbackWithoutToken?: boolean;
  };
  /** The HTTP producer API (`/v1/*`), for producers in other processes and languages. */
  producer?: {
    /**
     * Keys producers send as `Authorization: Bearer <key>`; each at least 16 characters,
     * without whitespace, and not the admin token. Absent or empty: every `/v1` route
     * answers 404. Several keys let one be rotated out while another is in use.
     */
    apiKeys?: string[];
    /**
     * Largest JSON body a `/v1` route reads from a producer with a valid key (default 4 MiB,
     * or `delivery.maxEventBytes` + 16 KiB if larger); a larger one is 413
     * `PAYLOAD_TOO_LARGE`. Requests without a valid key are read only up to the host app's
     * own JSON limit. It must be at least `delivery.maxEventBytes` + 1024.
     */
    maxBodyBytes?: number;
  };
  /** Called for each new (non-duplicate) user message. */
  onUserMessage?: UserMessageHandler;
  /** Replaces the Nest logger for the module's own lines. */
  logger?: LoggerService;
}

/** Options after defaults and validation; what every provider reads. */
export interface ResolvedRelayOptions {
  redis:
    | { kind: 'none' }
    | { kind: 'url'; url: string }
    | { kind: 'options'; options: RedisOptions }
    | { kind: 'client'; client: Redis }
    | { kind: 'cluster'; nodes: { host: string; port: number }[]; options: ClusterOptions }
    | { kind: 'cluster-client'; client: Cluster };
  keyPrefix: string;
  instanceId: string;
  authenticate: Authenticate;
  threadAccess: ThreadAccessHook | undefined;
  autoRegisterThreads: boolean;
  history: { ttlSeconds: number; maxPerThread: number; autoThreadTtlSeconds: number };
  limits: {
    clientEvents: { perSecond: number; burst: number };
    connectionAttempts: { perMinute: number; burst: number };
    readBytes: { perSecond: number; burst: number };
    httpRequests: { perSecond: number; burst: number };
    producerRequests: { perSecond: number; burst: number };
    userMessages: { perMinute: number; burst: number };
    joinedThreadsPerConnection: number;
    concurrentJoinsPerConnection: number;
    connectionsPerUser: number;
    autoRegisteredThreadsPerUser: number;
  };
  backpressure: { highWaterBytes: number; maxBufferedBytes: number; stallTimeoutMs: number };
  sse: { heartbeatMs: number };
  gateway: {
    namespace: string;
    path: string;
    corsOrigins: string[] | '*' | null;
    pingIntervalMs: number;
    pingTimeoutMs: number;
    maxPayloadBytes: number;
  };
  delivery: { maxEventBytes: number; unavailableTimeoutMs: number; replicaAcks: number };
  liveness: { heartbeatMs: number; ttlMs: number };
  debug: { adminToken: string | null; allowLoopbackWithoutToken: boolean };
  /** `apiKeys` empty: the producer API is off. */
  producer: { apiKeys: string[]; maxBodyBytes: number };
  onUserMessage: UserMessageHandler | undefined;
  logger: LoggerService | undefined;
}
