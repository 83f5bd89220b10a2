/** Malformed socket.io packets: a fixed table of known edge cases and random event arrays. */
import {
  deepNesting,
  randomJson,
  randomNumber,
  randomString,
  toJsonText,
  type Rng,
} from './fuzz-input.js';
import { KNOWN_EVENTS } from './socket-cases.js';

/** What socket.io-parser refuses as an event name (it closes the connection for them). */
const RESERVED_EVENTS = new Set([
  'connect',
  'connect_error',
  'disconnect',
  'disconnecting',
  'newListener',
  'removeListener',
]);

export interface RawCase {
  name: string;
  /** engine.io frames: strings are text, Buffers binary */
  frames: Array<string | Buffer>;
  /** socket.io may close the connection for it (a packet its parser refuses). */
  mayClose: boolean;
  /** The ack id the case waits an answer for, if it has one. */
  ackId?: number;
  /** The packet ends the client's session itself: no probe, a new connection. */
  leaves?: boolean;
}

/** Whether socket.io-parser accepts `[name, ...]` as an EVENT payload. */
function parserAccepts(data: unknown): boolean {
  if (!Array.isArray(data) || data.length === 0) return false;
  const name: unknown = data[0];
  return typeof name === 'number' || (typeof name === 'string' && !RESERVED_EVENTS.has(name));
}

/**
 * The fixed malformed packets. `close` marks packets socket.io itself refuses (its parser
 * or engine.io closes the connection, as it should); the others it delivers to the relay,
 * which must answer (acked ones: exactly once) and keep the connection open.
 */
export function fixedRawCases(token: string): RawCase[] {
  const B = (text: string): Buffer => Buffer.from(text, 'latin1');
  const open = false;
  const close = true;
  // [name, engine.io frames, may close, ack id the packet carries]
  const table: Array<[string, Array<string | Buffer>, boolean, number?]> = [
    ['event without payload', ['42["thread:join"]'], open],
    ['acked event without payload', ['42901["thread:join"]'], open, 901],
    ['empty event array', ['42[]'], close],
    ['numeric event name', ['42[123]'], open],
    ['numeric event name, acked', ['42902[123,{}]'], open, 902],
    ['extra arguments', ['42["thread:join",{"threadId":1},"extra"]'], open],
    ['extra arguments, acked', ['42903["thread:join",{"threadId":1},"extra",{"x":[]}]'], open, 903],
    ['null event name', ['42[null]'], close],
    ['object event name', ['42[{"a":1}]'], close],
    ['boolean event name', ['42[true]'], close],
    ['string packet data', ['42"thread:join"'], close],
    ['object packet data', ['42{"threadId":"x"}'], close],
    ['null packet data', ['42null'], close],
    ['truncated JSON', ['42["thread:join",{"threadId":"x"}'], close],
    ['not JSON', ['42abc'], close],
    ['reserved name connect', ['42["connect"]'], close],
    ['reserved name disconnect', ['42["disconnect","x"]'], close],
    ['reserved name newListener', ['42["newListener","thread:join"]'], close],
    ['reserved name removeListener', ['42["removeListener","x"]'], close],
    ['reserved name disconnecting', ['42["disconnecting"]'], close],
    ['event "error"', ['42["error",{"a":1}]'], open],
    ['event "error", acked', ['42904["error"]'], open, 904],
    ['event "__proto__", acked', ['42905["__proto__",{}]'], open, 905],
    ['event "constructor", acked', ['42906["constructor"]'], open, 906],
    ['event "hasOwnProperty"', ['42["hasOwnProperty",1]'], open],
    ['placeholder without its attachment', ['451-["x",{"_placeholder":true,"num":0}]'], close],
    ['binary join payload', ['451-["thread:join",{"_placeholder":true,"num":0}]', B('{}')], open],
    [
      'binary join payload, acked',
      ['451-907["thread:join",{"_placeholder":true,"num":0}]', B('\x01\x02')],
      open,
      907,
    ],
    [
      'binary threadId, acked',
      ['451-908["thread:join",{"threadId":{"_placeholder":true,"num":0}}]', B('x')],
      open,
      908,
    ],
    [
      'binary user:message text, acked',
      [
        '451-909["user:message",{"threadId":"x","text":{"_placeholder":true,"num":0},"clientMessageId":"c"}]',
        B('t'),
      ],
      open,
      909,
    ],
    ['placeholder index out of range', ['451-["x",{"_placeholder":true,"num":5}]', B('x')], close],
    [
      'placeholder with a string index',
      ['451-["x",{"_placeholder":true,"num":"0"}]', B('x')],
      close,
    ],
    [
      'two attachments announced, one sent',
      ['452-["x",{"_placeholder":true,"num":0}]', B('x')],
      close,
    ],
    ['binary frame out of the blue', [B('hello')], close],
    ['attachment count not a number', ['45x-["x"]'], close],
    ['ack from the client with no id', ['43[]'], close],
    ['ack for an id never sent', ['43777["x"]'], open],
    ['binary ack for an id never sent', ['461-777[{"_placeholder":true,"num":0}]', B('x')], open],
    ['second CONNECT', [`40${JSON.stringify({ token })}`], close],
    ['CONNECT with a garbage token', ['40{"token":"garbage"}'], close],
    ['CONNECT to another namespace', ['40/admin,{"token":"x"}'], close],
    ['event for another namespace', ['42/admin,["thread:join",{}]'], close],
    ['CONNECT_ERROR from the client', ['44{"message":"x"}'], close],
    ['unknown socket.io type 7', ['47["x"]'], close],
    ['unknown socket.io type 9', ['49'], close],
    ['empty socket.io packet', ['4'], close],
    ['huge ack id', ['4299999999999999999999999["thread:join"]'], close],
    ['negative ack id', ['42-1["thread:join"]'], close],
    ['engine.io ping (wrong direction)', ['2'], close],
    ['engine.io pong out of turn', ['3'], open],
    ['engine.io noop', ['6'], open],
    ['engine.io upgrade out of turn', ['5'], close],
    ['engine.io close', ['1'], close],
    ['engine.io unknown type', ['9'], close],
    ['empty frame', [''], close],
    ['deeply nested payload, acked', [`42910["thread:join",${deepNesting(5000).text}]`], open, 910],
    [
      'deeply nested object, acked',
      [`42911["user:message",${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}]`],
      open,
      911,
    ],
    [
      'frame over maxPayloadBytes',
      [`42["user:message",{"text":"${'x'.repeat(1_100_000)}"}]`],
      close,
    ],
    [
      '__proto__ payload, acked',
      ['42912["thread:join",{"__proto__":{"threadId":"x"},"threadId":"y"}]'],
      open,
      912,
    ],
    [
      'constructor.prototype payload, acked',
      ['42913["user:message",{"constructor":{"prototype":{"a":1}}}]'],
      open,
      913,
    ],
    ['1e400 seq, acked', ['42914["thread:ack",{"threadId":"x","seq":1e400}]'], open, 914],
    ['-0 lastSeq, acked', ['42915["thread:join",{"threadId":"x","lastSeq":-0}]'], open, 915],
  ];
  const cases: RawCase[] = table.map(([name, frames, mayClose, ackId]) => ({
    name,
    frames,
    mayClose,
    ...(ackId === undefined ? {} : { ackId }),
  }));
  // The client leaves the namespace: nothing more is served until it connects again.
  cases.push({ name: 'DISCONNECT', frames: ['41'], mayClose: true, leaves: true });
  return cases;
}

export function randomRawCase(rng: Rng, index: number): RawCase {
  const ackId = 10_000 + index;
  const withAck = rng.chance(0.6);
  if (rng.chance(0.2)) {
    // Garbage text of random characters after an engine.io/socket.io prefix.
    const prefix = rng.pick(['', '4', '42', '43', '45', '46', '40', '2', '3']);
    return { name: 'garbage frame', frames: [prefix + randomString(rng, 40)], mayClose: true };
  }
  const data: unknown[] = [];
  const name = rng.weighted<() => unknown>([
    [40, () => rng.pick(KNOWN_EVENTS)],
    [20, () => randomString(rng, 20)],
    [10, () => rng.pick([...RESERVED_EVENTS])],
    [10, () => randomNumber(rng)],
    [10, () => randomJson(rng, 1)],
  ])();
  if (rng.chance(0.97)) data.push(name);
  const extra = rng.int(4);
  for (let i = 0; i < extra; i++) data.push(randomJson(rng, 3));
  const text = toJsonText(data);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const accepted = parserAccepts(parsed);
  return {
    name: 'random event array',
    frames: [`42${withAck ? ackId : ''}${text}`],
    mayClose: !accepted,
    ...(withAck && accepted ? { ackId } : {}),
  };
}
