import type { Server } from 'socket.io';

/**
 * Data whose JSON is already at hand (a live event as the cluster bus carried it). Emitted
 * through a server set up by `encodePreEncodedJson`, it goes on the wire as is: no parse
 * and re-serialisation per instance, no walk looking for binary parts. Anywhere else it
 * serialises to the same JSON through `toJSON`.
 */
export class PreEncodedJson {
  constructor(readonly json: string) {}

  toJSON(): unknown {
    return JSON.parse(this.json) as unknown;
  }
}

interface EventPacket {
  type: number;
  nsp?: string;
  id?: number;
  data?: unknown;
}

/** socket.io's EVENT packet type (socket.io-parser `PacketType.EVENT`). */
const EVENT = 2;

/**
 * Teaches the server's encoder, which every namespace adapter and client of the server
 * shares, to write `[name, PreEncodedJson]` event packets without serialising them again:
 * the packet text is what socket.io-parser's `encodeAsString` would produce. Everything
 * else goes to the encoder as before.
 */
export function encodePreEncodedJson(server: Server): void {
  const encoder = (server as unknown as { encoder: { encode(packet: EventPacket): unknown[] } })
    .encoder;
  const encode = encoder.encode.bind(encoder);
  encoder.encode = (packet: EventPacket): unknown[] => {
    const data = packet.data;
    if (
      packet.type === EVENT &&
      packet.id === undefined &&
      Array.isArray(data) &&
      data.length === 2 &&
      typeof data[0] === 'string' &&
      data[1] instanceof PreEncodedJson
    ) {
      const nsp = packet.nsp && packet.nsp !== '/' ? `${packet.nsp},` : '';
      return [`${EVENT}${nsp}[${JSON.stringify(data[0])},${data[1].json}]`];
    }
    return encode(packet);
  };
}
