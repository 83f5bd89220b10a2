import { createSecretKey } from 'node:crypto';
import { errors, jwtVerify } from 'jose';
import type { Authenticate } from '../thread-relay.options.js';

export interface JwtAuthenticatorOptions {
  /** HS256 shared secret; at least 32 bytes. */
  secret: string;
  /** Required `iss`, when given. */
  issuer?: string;
  /** Required `aud`, when given. */
  audience?: string;
  /** Allowed clock skew in seconds (default 5). */
  clockToleranceSeconds?: number;
  /**
   * Refuse tokens without `exp` (default true): a token that never expires keeps a stolen
   * credential valid forever, on live connections too.
   */
  requireExpiry?: boolean;
  /** Refuse tokens issued (`iat`) longer ago than this, whatever their `exp`; needs `iat`. */
  maxAgeSeconds?: number;
}

/**
 * `authenticate` for HS256 JWTs whose `sub` is the user id. Expired, malformed or
 * wrongly signed tokens resolve to null (refused), never throw. The answer carries the
 * token's expiry (`exp`, or `iat + maxAgeSeconds` if sooner, plus the clock tolerance,
 * which is how long the token is accepted), so live connections close when it lapses.
 */
export function jwtAuthenticator(options: JwtAuthenticatorOptions): Authenticate {
  if (typeof options.secret !== 'string' || Buffer.byteLength(options.secret) < 32) {
    throw new Error('jwtAuthenticator: secret must be a string of at least 32 bytes');
  }
  const tolerance = options.clockToleranceSeconds ?? 5;
  if (!Number.isFinite(tolerance) || tolerance < 0) {
    throw new Error('jwtAuthenticator: clockToleranceSeconds must be a number >= 0');
  }
  const { maxAgeSeconds } = options;
  if (maxAgeSeconds !== undefined && (!Number.isInteger(maxAgeSeconds) || maxAgeSeconds < 1)) {
    throw new Error('jwtAuthenticator: maxAgeSeconds must be a positive integer');
  }
  const requireExpiry = options.requireExpiry ?? true;
  // A KeyObject made once: a raw byte key would be imported again on every verify.
  const key = createSecretKey(Buffer.from(options.secret, 'utf8'));
  return async ({ token }) => {
    if (!token) return null;
    try {
      const { payload } = await jwtVerify(token, key, {
        algorithms: ['HS256'],
        issuer: options.issuer,
        audience: options.audience,
        clockTolerance: tolerance,
        requiredClaims: requireExpiry ? ['exp'] : [],
        ...(maxAgeSeconds === undefined ? {} : { maxTokenAge: maxAgeSeconds }),
      });
      if (typeof payload.sub !== 'string' || payload.sub.length === 0) return null;
      const ends: number[] = [];
      if (typeof payload.exp === 'number') ends.push(payload.exp);
      if (maxAgeSeconds !== undefined && typeof payload.iat === 'number') {
        ends.push(payload.iat + maxAgeSeconds);
      }
      if (ends.length === 0) return { userId: payload.sub };
      return { userId: payload.sub, expiresAt: (Math.min(...ends) + tolerance) * 1000 };
    } catch (error) {
      if (error instanceof errors.JOSEError) return null;
      throw error;
    }
  };
}
