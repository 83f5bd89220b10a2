import { describe, expect, it } from '@jest/globals';
import { ConfigError, readServerConfig } from '../../src/demo/server-config.js';

const KEY_A = 'producer-key-a-0123456789';
const KEY_B = 'producer-key-b-0123456789';

function configError(env: NodeJS.ProcessEnv): ConfigError {
  try {
    readServerConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe('RELAY_PRODUCER_KEYS', () => {
  it('is off when unset or empty', () => {
    expect(readServerConfig({}).producerKeys).toBeUndefined();
    expect(readServerConfig({ RELAY_PRODUCER_KEYS: '  ' }).producerKeys).toBeUndefined();
  });

  it('reads comma-separated keys, trimming spaces around them', () => {
    expect(readServerConfig({ RELAY_PRODUCER_KEYS: `${KEY_A}, ${KEY_B}` }).producerKeys).toEqual([
      KEY_A,
      KEY_B,
    ]);
  });

  it('refuses a short or empty key by position, without printing it', () => {
    const short = configError({ RELAY_PRODUCER_KEYS: `${KEY_A},tiny-secret` });
    expect(short.message).toMatch(/^RELAY_PRODUCER_KEYS key 2 of 2 is 11 characters/);
    expect(short.message).toMatch(/at least 16/);
    expect(short.message).not.toContain('tiny-secret');
    expect(configError({ RELAY_PRODUCER_KEYS: `${KEY_A},` }).message).toMatch(
      /RELAY_PRODUCER_KEYS key 2 of 2 is 0 characters/,
    );
    expect(configError({ RELAY_PRODUCER_KEYS: 'two words in one key 0123' }).message).toMatch(
      /RELAY_PRODUCER_KEYS key 1 of 1 contains whitespace/,
    );
  });

  it('refuses the admin token as a producer key', () => {
    expect(configError({ RELAY_PRODUCER_KEYS: KEY_A, RELAY_ADMIN_TOKEN: KEY_A }).message).toMatch(
      /RELAY_PRODUCER_KEYS must not contain RELAY_ADMIN_TOKEN/,
    );
  });
});
