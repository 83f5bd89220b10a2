import { BlockList, isIP } from 'node:net';
import type { Request } from 'express';

/** 127.0.0.0/8 and ::1; IPv4-mapped forms (`::ffff:127.0.0.1`, a dual-stack socket's view) match too. */
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/**
 * Headers a reverse proxy or tunnel adds: a loopback peer that sends one relays a client
 * from elsewhere. They only ever take the exemption away, never grant it.
 */
const PROXY_HEADERS = [
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-real-ip',
  'via',
  'cf-connecting-ip',
  'true-client-ip',
];

/** Whether a socket's peer address is this machine's loopback interface. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const family = isIP(address);
  if (family === 0) return false;
  return LOOPBACK.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** `localhost` or a loopback address, as a Host header or an Origin names it. */
function isLoopbackHost(hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return name === 'localhost' || name === 'localhost.' || isLoopbackAddress(name);
}

function hostnameOf(host: string): string | null {
  try {
    return new URL(`http://${host}`).hostname;
  } catch {
    return null;
  }
}

/**
 * Why a request does not count as coming from a program on this machine, or null when it
 * does. Only the TCP peer address can make it local (`request.socket.remoteAddress`, never
 * `req.ip` or a forwarding header, which the client or a proxy writes); headers can only
 * rule it out:
 * - a forwarding header: a proxy or tunnel on this machine relays someone else;
 * - a Host that is not localhost or a loopback address: a browser led there by DNS
 *   rebinding (a page's own name that now resolves to 127.0.0.1);
 * - a browser request from another site or origin (`Sec-Fetch-Site`, `Origin`): a page
 *   the developer visits must not read or post to the routes through their browser.
 */
export function notLoopbackReason(request: Request): string | null {
  const address = request.socket?.remoteAddress;
  if (!isLoopbackAddress(address)) return 'the client address is not loopback';
  const proxied = PROXY_HEADERS.find((name) => request.headers[name] !== undefined);
  if (proxied !== undefined) return `the request came through a proxy (${proxied} header)`;
  const host = request.headers.host;
  if (host !== undefined) {
    const hostname = hostnameOf(host);
    if (hostname === null || !isLoopbackHost(hostname)) {
      return 'the Host header is not localhost or a loopback address';
    }
  }
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    return `a browser sent it from another site (Sec-Fetch-Site: ${String(site).slice(0, 20)})`;
  }
  const origin = request.headers.origin;
  if (origin !== undefined && origin !== `http://${host}` && origin !== `https://${host}`) {
    return 'a browser sent it from another origin';
  }
  return null;
}
