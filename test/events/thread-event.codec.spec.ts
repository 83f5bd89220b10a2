import {
  decodeEventBody,
  encodeEventBody,
  toThreadEvent,
} from '../../src/events/thread-event.codec.js';

describe('stored event bodies', () => {
  const body = {
    id: 'e-1',
    type: 'assistant_message',
    payload: { text: 'hé "quoted"', n: [1, 2] },
    ts: 1_700_000_000_123,
  };

  it('encodes the same JSON whether or not the payload comes serialised', () => {
    const plain = encodeEventBody(body);
    expect(plain).toBe(JSON.stringify(body));
    expect(encodeEventBody({ ...body, payloadJson: JSON.stringify(body.payload) })).toBe(plain);
    const withRun = { ...body, runId: 't_run_1700000000000_ab12' };
    expect(encodeEventBody(withRun)).toBe(JSON.stringify(withRun));
  });

  it('decodes what it encodes, and refuses what is not an event body', () => {
    expect(decodeEventBody(encodeEventBody(body), 'x')).toEqual(body);
    expect(() => decodeEventBody('{"id":1}', 'stored event 3')).toThrow(
      'stored event 3 is not a readable event',
    );
    expect(() => decodeEventBody(undefined, 'stored event 4')).toThrow('stored event 4');
  });

  it('builds the wire event without stray keys', () => {
    expect(Object.keys(toThreadEvent('t', 1, 'ep', body)).sort()).toEqual([
      'epoch',
      'id',
      'payload',
      'seq',
      'threadId',
      'ts',
      'type',
    ]);
  });
});
