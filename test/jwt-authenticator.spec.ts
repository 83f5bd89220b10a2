import { SignJWT } from 'jose';
import { jwtAuthenticator, signUserToken } from '../src/index.js';

const SECRET = 'jwt-authenticator-secret-of-32-bytes!!';
const key = new TextEncoder().encode(SECRET);
const now = () => Math.floor(Date.now() / 1000);

function sign(claims: { sub?: string; exp?: number; iat?: number; iss?: string; aud?: string }) {
  let jwt = new SignJWT({}).setProtectedHeader({ alg: 'HS256' });
  if (claims.sub !== undefined) jwt = jwt.setSubject(claims.sub);
  if (claims.exp !== undefined) jwt = jwt.setExpirationTime(claims.exp);
  if (claims.iat !== undefined) jwt = jwt.setIssuedAt(claims.iat);
  if (claims.iss !== undefined) jwt = jwt.setIssuer(claims.iss);
  if (claims.aud !== undefined) jwt = jwt.setAudience(claims.aud);
  return jwt.sign(key);
}

const request = (token: string) => ({ token, headers: {}, transport: 'socket' as const });

describe('jwtAuthenticator', () => {
  it('answers the user and when the token stops being accepted (exp plus the tolerance)', async () => {
    const exp = now() + 60;
    const authenticate = jwtAuthenticator({ secret: SECRET, clockToleranceSeconds: 2 });
    await expect(authenticate(request(await sign({ sub: 'alice', exp })))).resolves.toEqual({
      userId: 'alice',
      expiresAt: (exp + 2) * 1000,
    });
  });

  it('refuses a token without exp unless told otherwise', async () => {
    const forever = await sign({ sub: 'alice', iat: now() });
    await expect(jwtAuthenticator({ secret: SECRET })(request(forever))).resolves.toBeNull();
    await expect(
      jwtAuthenticator({ secret: SECRET, requireExpiry: false })(request(forever)),
    ).resolves.toEqual({ userId: 'alice' });
  });

  it('refuses expired tokens, beyond the clock tolerance only', async () => {
    const expired = await sign({ sub: 'alice', exp: now() - 3 });
    await expect(
      jwtAuthenticator({ secret: SECRET, clockToleranceSeconds: 0 })(request(expired)),
    ).resolves.toBeNull();
    await expect(
      jwtAuthenticator({ secret: SECRET, clockToleranceSeconds: 10 })(request(expired)),
    ).resolves.toMatchObject({ userId: 'alice' });
  });

  it('caps a token by maxAgeSeconds from iat, whichever of the two ends first', async () => {
    const authenticate = jwtAuthenticator({
      secret: SECRET,
      maxAgeSeconds: 30,
      clockToleranceSeconds: 0,
    });
    const iat = now();
    await expect(
      authenticate(request(await sign({ sub: 'alice', iat, exp: iat + 3600 }))),
    ).resolves.toEqual({ userId: 'alice', expiresAt: (iat + 30) * 1000 });
    await expect(
      authenticate(request(await sign({ sub: 'alice', iat: iat - 60, exp: iat + 3600 }))),
    ).resolves.toBeNull();
    // maxAgeSeconds needs iat to measure from.
    await expect(
      authenticate(request(await sign({ sub: 'alice', exp: iat + 3600 }))),
    ).resolves.toBeNull();
  });

  it('checks issuer and audience when configured', async () => {
    const authenticate = jwtAuthenticator({ secret: SECRET, issuer: 'app', audience: 'relay' });
    const exp = now() + 60;
    await expect(
      authenticate(request(await sign({ sub: 'a', exp, iss: 'app', aud: 'relay' }))),
    ).resolves.toMatchObject({ userId: 'a' });
    await expect(
      authenticate(request(await sign({ sub: 'a', exp, iss: 'other', aud: 'relay' }))),
    ).resolves.toBeNull();
    await expect(
      authenticate(request(await sign({ sub: 'a', exp, iss: 'app', aud: 'other' }))),
    ).resolves.toBeNull();
  });

  it('refuses tokens without a subject, signed with another key, or garbage', async () => {
    const authenticate = jwtAuthenticator({ secret: SECRET });
    await expect(authenticate(request(await sign({ exp: now() + 60 })))).resolves.toBeNull();
    const foreign = await signUserToken('alice', 'another-secret-that-is-32-bytes-long!!');
    await expect(authenticate(request(foreign))).resolves.toBeNull();
    await expect(authenticate(request('not.a.jwt'))).resolves.toBeNull();
    await expect(authenticate(request(''))).resolves.toBeNull();
  });

  it('refuses bad options at once, naming them', () => {
    expect(() => jwtAuthenticator({ secret: 'short' })).toThrow(/secret/);
    expect(() => jwtAuthenticator({ secret: SECRET, maxAgeSeconds: 0 })).toThrow(/maxAgeSeconds/);
    expect(() => jwtAuthenticator({ secret: SECRET, clockToleranceSeconds: -1 })).toThrow(
      /clockToleranceSeconds/,
    );
  });
});
