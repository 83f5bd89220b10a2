import {
  InvalidOptionError,
  resolveRelayOptions,
  type ThreadRelayModuleOptions,
} from '../src/index.js';

const authenticate = () => null;
const key = 'producer-key-0123456789';

function optionError(options: Partial<ThreadRelayModuleOptions>): InvalidOptionError {
  try {
    resolveRelayOptions({ authenticate, ...options });
  } catch (error) {
    if (error instanceof InvalidOptionError) return error;
    throw error;
  }
  throw new Error('expected an InvalidOptionError');
}

describe('producer options', () => {
  it('defaults: no keys (API off), a 4 MiB body limit, 1000 requests per second burst 2000', () => {
    const resolved = resolveRelayOptions({ authenticate });
    expect(resolved.producer).toEqual({ apiKeys: [], maxBodyBytes: 4 * 1024 * 1024 });
    expect(resolved.limits.producerRequests).toEqual({ perSecond: 1000, burst: 2000 });
  });

  it('keeps the keys and raises the default body limit with a larger maxEventBytes', () => {
    const resolved = resolveRelayOptions({
      authenticate,
      producer: { apiKeys: [key] },
      delivery: { maxEventBytes: 8 * 1024 * 1024 },
    });
    expect(resolved.producer).toEqual({
      apiKeys: [key],
      maxBodyBytes: 8 * 1024 * 1024 + 16 * 1024,
    });
  });

  it.each<[Partial<ThreadRelayModuleOptions>, string, RegExp]>([
    [{ producer: { apiKeys: key as never } }, 'producer.apiKeys', /array of strings/],
    [
      { producer: { apiKeys: [key, 'short'] } },
      'producer.apiKeys[1]',
      /16-1024 characters \(a shorter key can be guessed\), got 5/,
    ],
    [{ producer: { apiKeys: ['x'.repeat(1025)] } }, 'producer.apiKeys[0]', /16-1024 characters/],
    [{ producer: { apiKeys: [42 as never] } }, 'producer.apiKeys[0]', /must be a string/],
    [{ producer: { apiKeys: ['has a space in it 0123'] } }, 'producer.apiKeys[0]', /whitespace/],
    [
      { producer: { apiKeys: [key] }, debug: { adminToken: key } },
      'producer.apiKeys[0]',
      /must differ from debug.adminToken/,
    ],
    [
      { producer: { apiKeys: Array(101).fill(key) as string[] } },
      'producer.apiKeys',
      /at most 100/,
    ],
    [{ producer: 'on' as never }, 'producer', /object/],
    [{ producer: { maxBodyBytes: 10 } }, 'producer.maxBodyBytes', /between 1024/],
    [
      { producer: { maxBodyBytes: 60_000 } },
      'producer.maxBodyBytes',
      /at least delivery.maxEventBytes \+ 1024 \(66560\)/,
    ],
    [
      { limits: { producerRequests: { perSecond: 0 } } },
      'limits.producerRequests.perSecond',
      /between 1/,
    ],
    [{ limits: { producerRequests: { burst: 1.5 } } }, 'limits.producerRequests.burst', /integer/],
  ])('refuses %j naming %s', (options, option, reason) => {
    const error = optionError(options);
    expect(error.option).toBe(option);
    expect(error.message).toMatch(reason);
    expect(error.message).toContain(`"${option}"`);
  });
});
