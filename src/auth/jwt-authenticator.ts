import { createSecretKey } from 'node:crypto';
import { errors, jwtVerify } from 'jose';
import type { Authenticate } from '../thread-relay.options.js';

export interface JwtAuthenticatorOptions {
  /** HS256 shared secret; at least 32 bytes. */
  secret: string;
  issuer?: string;
  audience?: string;
  /** Allowed clock skew in seconds (default 5). */
  clockToleranceSeconds?: number;
}

/**
 * `authenticate` for HS256 JWTs whose `sub` is the user id. Expired, malformed or
 * wrongly signed tokens resolve to null (refused), never throw.
 */
export function jwtAuthenticator(options: JwtAuthenticatorOptions): Authenticate {
  if (typeof options.secret !== 'string' || Buffer.byteLength(options.secret) < 32) {
    throw new Error('jwtAuthenticator: secret must be a string of at least 32 bytes');
  }
  // A KeyObject made once: a raw byte key would be imported again on every verify.
  const key = createSecretKey(Buffer.from(options.secret, 'utf8'));
  return async ({ token }) => {
    if (!token) return null;
    try {
      const { payload } = await jwtVerify(token, key, {
        algorithms: ['HS256'],
        issuer: options.issuer,
        audience: options.audience,
        clockTolerance: options.clockToleranceSeconds ?? 5,
      });
      return typeof payload.sub === 'string' && payload.sub.length > 0
        ? { userId: payload.sub }
        : null;
    } catch (error) {
      if (error instanceof errors.JOSEError) return null;
      throw error;
    }
  };
}
