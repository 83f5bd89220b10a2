import { resolveClientOptions } from '../../src/client/client.options.js';

describe('resolveClientOptions', () => {
  const base = { url: 'http://localhost:8000', token: 't' };

  it('acks after 50 ms and at most every 250 ms per thread by default', () => {
    expect(resolveClientOptions(base)).toMatchObject({ ackBatchMs: 50, ackIntervalMs: 250 });
    expect(resolveClientOptions({ ...base, ackIntervalMs: 0 }).ackIntervalMs).toBe(0);
  });

  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY])(
    'refuses ackIntervalMs %p, naming the option',
    (ackIntervalMs) => {
      let thrown: unknown;
      try {
        resolveClientOptions({ ...base, ackIntervalMs });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toMatchObject({ code: 'INVALID_OPTION' });
      expect((thrown as Error).message).toContain('ackIntervalMs');
    },
  );

  it('falls back to SSE for at most 4 threads, taking 45 s of silence for a dead stream, by default', () => {
    expect(resolveClientOptions(base)).toMatchObject({
      sse: true,
      maxEventStreams: 4,
      streamIdleTimeoutMs: 45_000,
    });
    expect(
      resolveClientOptions({ ...base, sse: false, maxEventStreams: 1, streamIdleTimeoutMs: 500 }),
    ).toMatchObject({ sse: false, maxEventStreams: 1, streamIdleTimeoutMs: 500 });
  });

  it.each([
    ['sse', 'yes'],
    ['sse', 1],
    ['maxEventStreams', 0],
    ['maxEventStreams', 2.5],
    ['maxEventStreams', Number.POSITIVE_INFINITY],
    ['streamIdleTimeoutMs', 0],
    ['streamIdleTimeoutMs', -1],
    ['streamIdleTimeoutMs', Number.NaN],
    ['renewBeforeMs', 0],
    ['renewBeforeMs', -1],
    ['renewBeforeMs', Number.NaN],
    ['renewBeforeMs', Number.POSITIVE_INFINITY],
    ['maxConcurrentJoins', 0],
    ['maxConcurrentJoins', 2.5],
    ['maxConcurrentJoins', Number.POSITIVE_INFINITY],
  ])('refuses the option %s %p, naming it', (name, value) => {
    expect(() => resolveClientOptions({ ...base, [name]: value })).toThrow(
      expect.objectContaining({
        code: 'INVALID_OPTION',
        message: expect.stringContaining(name) as unknown,
      }) as Error,
    );
  });

  it('renews 60 s before expiry and keeps 4 joins in flight by default', () => {
    expect(resolveClientOptions(base)).toMatchObject({
      renewBeforeMs: 60_000,
      maxConcurrentJoins: 4,
    });
    expect(
      resolveClientOptions({ ...base, renewBeforeMs: 5000, maxConcurrentJoins: 1 }),
    ).toMatchObject({ renewBeforeMs: 5000, maxConcurrentJoins: 1 });
  });
});
