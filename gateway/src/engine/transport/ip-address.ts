/**
 * Small IP-literal helpers shared by the listeners and the send path. Addresses cross the API
 * without brackets; IPv4 peers on dual-stack IPv6 sockets are reported as IPv4.
 */
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';

const MAPPED_PREFIX = '::ffff:';

/**
 * Canonical form used for table keys and reports: brackets stripped, IPv6 lower-cased, and
 * IPv4-mapped IPv6 ('::ffff:1.2.3.4', what a dual-stack socket reports) turned into plain IPv4.
 */
export function normalizeAddress(address: string): string {
  let a = address;
  if (a.length > 1 && a.charCodeAt(0) === 0x5b /* [ */ && a.charCodeAt(a.length - 1) === 0x5d /* ] */) {
    a = a.slice(1, -1);
  }
  if (a.indexOf(':') === -1) return a;
  a = a.toLowerCase();
  if (a.startsWith(MAPPED_PREFIX) && a.indexOf('.', MAPPED_PREFIX.length) !== -1) {
    return a.slice(MAPPED_PREFIX.length);
  }
  return a;
}

/** 6 for anything containing ':' (after normalisation), else 4. */
export function familyOf(address: string): 4 | 6 {
  return address.indexOf(':') === -1 ? 4 : 6;
}

export function isIpLiteral(address: string): boolean {
  return isIP(address) !== 0;
}

export function isWildcard(address: string): boolean {
  return address === '0.0.0.0' || address === '::' || address === '*' || address === '';
}

export function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1';
}

/** 'host:port' with IPv6 in brackets (RFC 3986 §3.2.2), for ids, URLs and logs. */
export function formatHostPort(address: string, port: number): string {
  return address.indexOf(':') === -1 ? `${address}:${port}` : `[${address}]:${port}`;
}

/** What a dual-stack IPv6 socket needs in order to reach an IPv4 peer. */
export function toMappedIPv6(ipv4: string): string {
  return MAPPED_PREFIX + ipv4;
}

/** The machine's first non-internal IPv4 address (what a wildcard bind advertises), if any. */
export function firstNonInternalIPv4(): string | undefined {
  const ifaces = networkInterfaces();
  for (const name of Object.keys(ifaces)) {
    for (const info of ifaces[name] ?? []) {
      if (!info.internal && info.family === 'IPv4') return info.address;
    }
  }
  return undefined;
}
