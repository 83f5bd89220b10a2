import { createHash, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { type ResolvedRelayOptions } from '../../thread-relay.options.js';
import { RELAY_OPTIONS } from '../../thread-relay.constants.js';

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/**
 * The configured producer keys, kept only as digests. A guess is compared with every key
 * and digests have one length, so the time taken says neither how close a guess was nor
 * which key it matched.
 */
@Injectable()
export class ProducerKeys {
  private readonly keys: Array<{ digest: Buffer; id: string }>;

  constructor(@Inject(RELAY_OPTIONS) options: ResolvedRelayOptions) {
    this.keys = options.producer.apiKeys.map((key) => {
      const value = digest(key);
      // A prefix of the digest names the key in limits and logs without revealing it.
      return { digest: value, id: `key-${value.toString('hex').slice(0, 12)}` };
    });
  }

  /** False when no key is configured: the producer API does not exist. */
  get enabled(): boolean {
    return this.keys.length > 0;
  }

  /** The id of the key `token` is, or null when it is none of them. */
  identify(token: string | undefined): string | null {
    if (token === undefined) return null;
    const candidate = digest(token);
    let match: string | null = null;
    for (const key of this.keys) {
      if (timingSafeEqual(candidate, key.digest)) match ??= key.id;
    }
    return match;
  }
}
