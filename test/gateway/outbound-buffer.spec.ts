import { EventEmitter } from 'node:events';
import type { Socket } from 'socket.io';
import { OutboundBuffer } from '../../src/gateway/outbound-buffer.js';

/** The parts of a socket.io socket the buffer reads: its engine.io connection and transport. */
function fakeSocket(transport: object) {
  const conn = Object.assign(new EventEmitter(), {
    transport,
    closed: false,
    close() {
      this.closed = true;
    },
  });
  const socket = { conn, disconnected: false } as unknown as Socket;
  return { socket, conn };
}

describe('OutboundBuffer', () => {
  it('counts queued packets until engine.io hands them to a websocket, plus what it holds', () => {
    const ws = {
      bufferedAmount: 0,
      terminated: false,
      terminate() {
        this.terminated = true;
      },
    };
    const { socket, conn } = fakeSocket({ socket: ws });
    const overflows: number[] = [];
    const buffer = new OutboundBuffer(socket, 1_000, (bytes) => overflows.push(bytes));
    conn.emit('packetCreate', { data: 'x'.repeat(300) });
    conn.emit('packetCreate', { data: Buffer.alloc(200) });
    expect(buffer.bytes()).toBe(500);
    conn.emit('flush', [{ data: 'x'.repeat(300) }, { data: Buffer.alloc(200) }]);
    ws.bufferedAmount = 450;
    expect(buffer.bytes()).toBe(450);
    conn.emit('packetCreate', { data: 'y'.repeat(800) });
    expect(overflows).toEqual([1_250]);
    buffer.cut();
    expect(ws.terminated).toBe(true);
  });

  it('counts a long-polling batch as unread until its response is written out', async () => {
    const transport: { res: EventEmitter | null } = { res: new EventEmitter() };
    const { socket, conn } = fakeSocket(transport);
    const overflows: number[] = [];
    const buffer = new OutboundBuffer(socket, 1_000, (bytes) => overflows.push(bytes));
    const first = transport.res!;
    conn.emit('packetCreate', { data: 'x'.repeat(600) });
    conn.emit('flush', [{ data: 'x'.repeat(600) }]);
    // Handed to the poll's response: engine.io counts it sent, the client has not read it.
    expect(buffer.bytes()).toBe(600);
    const second = new EventEmitter();
    transport.res = second;
    conn.emit('packetCreate', { data: 'y'.repeat(500) });
    conn.emit('flush', [{ data: 'y'.repeat(500) }]);
    expect(overflows).toEqual([1_100]);
    first.emit('finish');
    expect(buffer.bytes()).toBe(500);
    // Written out or dropped, once only.
    second.emit('close');
    second.emit('finish');
    expect(buffer.bytes()).toBe(0);
    await expect(buffer.drained(100, 50)).resolves.toBe(true);
  });

  it('waits for the buffer to drain, and gives up after the timeout', async () => {
    const ws = { bufferedAmount: 5_000 };
    const { socket, conn } = fakeSocket({ socket: ws });
    const buffer = new OutboundBuffer(socket, 10_000, () => undefined);
    await expect(buffer.drained(1_000, 120)).resolves.toBe(false);
    const drained = buffer.drained(1_000, 5_000);
    ws.bufferedAmount = 0;
    conn.emit('drain');
    await expect(drained).resolves.toBe(true);
  });
});
