import net from 'node:net';

/**
 * A TCP proxy in front of one or more relay instances, standing in for a load balancer or
 * a network path in e2e tests: it can switch the instance new connections go to, cut every
 * open connection (a network failure neither side chose), and refuse socket.io handshakes
 * while letting plain HTTP through (a proxy that blocks websockets).
 */
export class TcpProxy {
  /** Port of the instance new connections are sent to. */
  targetPort: number;
  /** Refuse connections whose first request is for the socket.io path. */
  blockSocketIo = false;
  /** Connections refused because `blockSocketIo` was on. */
  refused = 0;
  private readonly open = new Set<net.Socket>();

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
      const upstream = net.connect({ host: '127.0.0.1', port: this.targetPort });
      this.track(upstream);
      upstream.once('connect', () => {
        upstream.write(first);
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
      upstream.on('close', () => client.destroy());
      client.on('close', () => upstream.destroy());
    });
  }
}
