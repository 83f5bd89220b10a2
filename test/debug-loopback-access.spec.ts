import { describe, expect, it } from '@jest/globals';
import { type ExecutionContext, HttpException } from '@nestjs/common';
import type { Request } from 'express';
import { AdminTokenGuard } from '../src/http/admin-token.guard.js';
import { isLoopbackAddress } from '../src/http/loopback-request.js';
import { InvalidOptionError, resolveRelayOptions } from '../src/index.js';

const ADMIN_TOKEN = 'admin-token-0123456789-abcdef';
const authenticate = () => null;

interface FakeRequest {
  remoteAddress: string | undefined;
  headers?: Record<string, string>;
  /** What Express's `req.ip` would say behind `trust proxy`: the guard must not read it. */
  ip?: string;
}

function guard(debug: Record<string, unknown>): AdminTokenGuard {
  return new AdminTokenGuard(resolveRelayOptions({ authenticate, debug }));
}

/** 'pass', or the status and message the guard answers with. */
function outcome(target: AdminTokenGuard, fake: FakeRequest): string {
  const request = {
    headers: { host: 'localhost:8000', ...fake.headers },
    socket: { remoteAddress: fake.remoteAddress },
    ip: fake.ip ?? fake.remoteAddress,
  } as unknown as Request;
  const context = {
    switchToHttp: () => ({ getRequest: () => request }),
  } as unknown as ExecutionContext;
  try {
    return target.canActivate(context) ? 'pass' : 'refused';
  } catch (error) {
    if (error instanceof HttpException) return `${error.getStatus()} ${error.message}`;
    throw error;
  }
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('isLoopbackAddress', () => {
  it.each(['127.0.0.1', '127.1.2.3', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1'])(
    'counts %s as loopback',
    (address) => expect(isLoopbackAddress(address)).toBe(true),
  );

  it.each([
    '10.0.0.5',
    '::ffff:10.0.0.5',
    '192.0.2.2',
    'fd00::2',
    '::',
    '0.0.0.0',
    'localhost',
    '127.0.0.1.evil.example',
    '',
    undefined,
  ])('does not count %j as loopback', (address) => expect(isLoopbackAddress(address)).toBe(false));
});

describe('debug routes: loopback access without a token (debug.allowLoopbackWithoutToken)', () => {
  const devNoToken = guard({ allowLoopbackWithoutToken: true });
  const devWithToken = guard({ adminToken: ADMIN_TOKEN, allowLoopbackWithoutToken: true });

  it.each(['127.0.0.1', '::1', '::ffff:127.0.0.1'])(
    'lets a client at %s in without a token',
    (remoteAddress) => {
      expect(outcome(devNoToken, { remoteAddress })).toBe('pass');
      expect(outcome(devWithToken, { remoteAddress })).toBe('pass');
    },
  );

  it.each(['localhost:8000', '127.0.0.1:8000', '[::1]:8000', 'LOCALHOST'])(
    'accepts the loopback Host %s',
    (host) => expect(outcome(devNoToken, { remoteAddress: '::1', headers: { host } })).toBe('pass'),
  );

  it('refuses a non-loopback client without a token: 404 with no admin token, 401 with one', () => {
    for (const remoteAddress of ['10.0.0.5', '::ffff:10.0.0.5', '192.0.2.2', 'fd00::2']) {
      expect(outcome(devNoToken, { remoteAddress })).toMatch(/^404 .*not loopback/);
      expect(outcome(devWithToken, { remoteAddress })).toMatch(/^401 admin token required/);
    }
    // A socket already closed has no address: not local.
    expect(outcome(devNoToken, { remoteAddress: undefined })).toMatch(/^404/);
  });

  it('reads the TCP peer, never X-Forwarded-For, X-Real-IP, Forwarded or req.ip', () => {
    const spoofs: Record<string, string>[] = [
      { 'x-forwarded-for': '127.0.0.1' },
      { 'x-forwarded-for': '::1' },
      { 'x-real-ip': '127.0.0.1' },
      { forwarded: 'for=127.0.0.1' },
      { 'x-forwarded-for': '127.0.0.1', host: 'localhost:8000' },
    ];
    for (const headers of spoofs) {
      const attacker = { remoteAddress: '10.0.0.5', headers, ip: '127.0.0.1' };
      expect(outcome(devNoToken, attacker)).toMatch(/^404/);
      expect(outcome(devWithToken, attacker)).toMatch(/^401/);
    }
    // req.ip alone (what `trust proxy` would make of the headers) opens nothing either.
    expect(outcome(devNoToken, { remoteAddress: '10.0.0.5', ip: '127.0.0.1' })).toMatch(/^404/);
  });

  it('refuses a loopback peer that relays someone else (a local proxy or tunnel adds forwarding headers)', () => {
    const relayed: Record<string, string>[] = [
      { 'x-forwarded-for': '203.0.113.7' },
      { 'x-forwarded-for': '127.0.0.1' },
      { forwarded: 'for=203.0.113.7' },
      { 'x-real-ip': '203.0.113.7' },
      { via: '1.1 proxy' },
      { 'cf-connecting-ip': '203.0.113.7' },
    ];
    for (const headers of relayed) {
      expect(outcome(devNoToken, { remoteAddress: '127.0.0.1', headers })).toMatch(/^404 .*proxy/);
      expect(outcome(devWithToken, { remoteAddress: '127.0.0.1', headers })).toMatch(/^401/);
    }
  });

  it('refuses a Host that is not loopback (DNS rebinding: a page whose name now resolves to 127.0.0.1)', () => {
    for (const host of ['evil.example:8000', 'localhost.evil.example', '10.0.0.5:8000', '%%%']) {
      expect(outcome(devNoToken, { remoteAddress: '127.0.0.1', headers: { host } })).toMatch(
        /^404 .*Host/,
      );
    }
  });

  it('refuses a browser request from another site or origin (CSRF from a page the developer visits)', () => {
    const cases: Record<string, string>[] = [
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site' },
      { origin: 'https://evil.example' },
      { origin: 'http://localhost:3000' },
      { origin: 'null' },
    ];
    for (const headers of cases) {
      expect(outcome(devNoToken, { remoteAddress: '127.0.0.1', headers })).toMatch(/^404/);
    }
    // The address bar (Sec-Fetch-Site: none) and the server's own page pass.
    expect(
      outcome(devNoToken, { remoteAddress: '127.0.0.1', headers: { 'sec-fetch-site': 'none' } }),
    ).toBe('pass');
    expect(
      outcome(devNoToken, {
        remoteAddress: '127.0.0.1',
        headers: { 'sec-fetch-site': 'same-origin', origin: 'http://localhost:8000' },
      }),
    ).toBe('pass');
  });

  it('judges a request that sends credentials by them: a wrong token is 401 even from loopback', () => {
    const local = (headers: Record<string, string>) =>
      outcome(devWithToken, { remoteAddress: '127.0.0.1', headers });
    expect(local(bearer('wrong-token'))).toMatch(/^401/);
    expect(local(bearer(`${ADMIN_TOKEN}x`))).toMatch(/^401/);
    expect(local({ authorization: ADMIN_TOKEN })).toMatch(/^401/);
    expect(local({ authorization: 'Basic YWRtaW46YWRtaW4=' })).toMatch(/^401/);
    expect(local(bearer(ADMIN_TOKEN))).toBe('pass');
    expect(outcome(devWithToken, { remoteAddress: '10.0.0.5', headers: bearer(ADMIN_TOKEN) })).toBe(
      'pass',
    );
    expect(outcome(devWithToken, { remoteAddress: '10.0.0.5', headers: bearer('nope') })).toMatch(
      /^401/,
    );
    // No admin token configured: no token can be right.
    expect(outcome(devNoToken, { remoteAddress: '127.0.0.1', headers: bearer('x') })).toMatch(
      /^404/,
    );
  });
});

describe('debug routes without loopback access (the library default, production)', () => {
  it('requires the admin token from every client, loopback included', () => {
    for (const target of [
      guard({ adminToken: ADMIN_TOKEN }),
      guard({ adminToken: ADMIN_TOKEN, allowLoopbackWithoutToken: false }),
    ]) {
      for (const remoteAddress of ['127.0.0.1', '::1', '::ffff:127.0.0.1', '10.0.0.5']) {
        expect(outcome(target, { remoteAddress })).toBe('401 admin token required');
        expect(outcome(target, { remoteAddress, headers: bearer('wrong-token') })).toMatch(/^401/);
        expect(outcome(target, { remoteAddress, headers: bearer(ADMIN_TOKEN) })).toBe('pass');
      }
    }
    expect(outcome(guard({}), { remoteAddress: '127.0.0.1' })).toBe(
      '404 debug routes are disabled (no admin token configured)',
    );
  });

  it('defaults allowLoopbackWithoutToken to false', () => {
    expect(resolveRelayOptions({ authenticate }).debug).toEqual({
      adminToken: null,
      allowLoopbackWithoutToken: false,
    });
    expect(
      resolveRelayOptions({ authenticate, debug: { adminToken: ADMIN_TOKEN } }).debug
        .allowLoopbackWithoutToken,
    ).toBe(false);
  });

  it.each([['yes'], [1], [null], [{}]])(
    'refuses allowLoopbackWithoutToken: %j at startup, naming the option',
    (value) => {
      let thrown: unknown;
      try {
        resolveRelayOptions({
          authenticate,
          debug: { allowLoopbackWithoutToken: value as unknown as boolean },
        });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(InvalidOptionError);
      expect((thrown as InvalidOptionError).option).toBe('debug.allowLoopbackWithoutToken');
      expect((thrown as Error).message).toMatch(
        /"debug.allowLoopbackWithoutToken" must be a boolean/,
      );
    },
  );
});
