import { resolveClientOptions } from './client.options.js';

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
});
