import net from 'node:net';

/**
 * A TCP proxy in front of one or more relay instances, standing in for a load balancer or
 * a network path in e2e tests: it can switch the instance new connections go to, spread
 * them round-robin over several instances (skipping one that refuses, as a load balancer
 * skips a dead backend), cut every open connection (a network failure neither side chose),
 * and refuse socket.io handshakes while letting plain HTTP through (a proxy that blocks
 * websockets).
 */
export class TcpProxy {
  /** Port of the instance new connections are sent to (when `upstreams` is empty). */
  targetPort: number;
  /**
   * When not empty, new connections go round-robin over these ports instead of
   * `targetPort`; an upstream that refuses the TCP connection (e.g. a killed instance) is
   * skipped for the next one, and the client is only dropped when every one refuses.
   */
  upstreams: number[] = [];
  /** Refuse connections whose first request is for the socket.io path. */
  blockSocketIo = false;
  /** Connections refused because `blockSocketIo` was on. */
  refused = 0;
  /** Upstream connection attempts that failed (refused or reset before connecting). */
  upstreamFailures = 0;
  /** Connections handed to each upstream port (counted once connected). */
  readonly routed = new Map<number, number>();
  private readonly open = new Set<net.Socket>();
  private nextUpstream = 0;

  private constructor(
    private readonly server: net.Server,
    targetPort: number,
    private readonly socketIoPath: string,
  ) {
    this.targetPort = targetPort;
  }

  static async start(targetPort: number, socketIoPath = '/socket.io/'): Promise<TcpProxy> {
    const server = net.createServer();
    const proxy = new TcpProxy(server, targetPort, socketIoPath);
    server.on('connection', (client) => proxy.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  /** A round-robin load balancer over `upstreamPorts` (see `upstreams`). */
  static async balance(upstreamPorts: number[], socketIoPath = '/socket.io/'): Promise<TcpProxy> {
    const [first] = upstreamPorts;
    if (first === undefined) throw new Error('TcpProxy.balance needs at least one upstream');
    const proxy = await TcpProxy.start(first, socketIoPath);
    proxy.upstreams = [...upstreamPorts];
    return proxy;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Connections (either side) currently open through the proxy. */
  get openConnections(): number {
    return this.open.size;
  }

  /** Destroys every open connection, client and upstream side alike. */
  cutAll(): void {
    for (const socket of [...this.open]) socket.destroy();
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.cutAll();
    await closed;
  }

  private track(socket: net.Socket): void {
    this.open.add(socket);
    socket.on('close', () => this.open.delete(socket));
    // Resets are what cuts are made of; nobody needs to hear about them.
    socket.on('error', () => socket.destroy());
  }

  private accept(client: net.Socket): void {
    this.track(client);
    client.once('data', (first: Buffer) => {
      if (this.blockSocketIo && first.toString('latin1').startsWith(`GET ${this.socketIoPath}`)) {
        this.refused += 1;
        client.destroy();
        return;
      }
      client.pause();
      this.connectUpstream(this.candidates(), client, first);
    });
  }

  /** Upstream ports to try for a new connection, in order. */
  private candidates(): number[] {
    const ports = this.upstreams;
    if (ports.length === 0) return [this.targetPort];
    const start = this.nextUpstream % ports.length;
    this.nextUpstream = start + 1;
    return [...ports.slice(start), ...ports.slice(0, start)];
  }

  /** Connects to the first of `ports` that accepts, then pipes `client` through it. */
  private connectUpstream(ports: number[], client: net.Socket, first: Buffer): void {
    const [port, ...rest] = ports;
    if (port === undefined || client.destroyed) {
      client.destroy();
      return;
    }
    const upstream = net.connect({ host: '127.0.0.1', port });
    // Counted as open while connecting, so `cutAll` and `close` reach it too.
    this.track(upstream);
    let settled = false;
    const abandon = () => upstream.destroy();
    client.once('close', abandon);
    upstream.once('error', () => {
      if (settled) return;
      settled = true;
      client.off('close', abandon);
      this.upstreamFailures += 1;
      this.connectUpstream(rest, client, first);
    });
    upstream.once('connect', () => {
      settled = true;
      client.off('close', abandon);
      this.routed.set(port, (this.routed.get(port) ?? 0) + 1);
      upstream.on('close', () => client.destroy());
      client.on('close', () => upstream.destroy());
      if (client.destroyed) {
        upstream.destroy();
        return;
      }
      upstream.write(first);
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
  }
}
