/**
 * Where a request goes and from which local transport (RFC 3263 in its simplest form, plus
 * drachtio-protocol §4.3 transport selection).
 *
 * Names are resolved with the system resolver (A/AAAA, /etc/hosts). NAPTR/SRV lookups are not
 * made: a SIP URI without a port gets the protocol's default port (RFC 3263 §4.2 fallback).
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { SipUri } from '../sip/uri';
import { matchesLocalNet, prefixMatchLength, type Protocol, type Transport } from '../transport';

export interface Destination {
  protocol: Protocol;
  address: string;
  port: number;
  /** The URI said which transport to use. */
  explicitTransport: boolean;
}

export class DestinationError extends Error {}

const DEFAULT_PORT: Record<Protocol, number> = { udp: 5060, tcp: 5060, tls: 5061, ws: 80, wss: 443 };

/** The port a URI stands for when it names none (RFC 3263 §4.2 fallback). */
export function portOf(uri: SipUri): number {
  return uri.port ?? DEFAULT_PORT[protocolOf(uri).protocol];
}

export function protocolOf(uri: SipUri): { protocol: Protocol; explicit: boolean } {
  const t = uri.transport;
  if (t === 'udp' || t === 'tcp' || t === 'tls' || t === 'ws' || t === 'wss') {
    if (uri.scheme === 'sips' && t === 'tcp') return { protocol: 'tls', explicit: true };
    return { protocol: t, explicit: true };
  }
  if (uri.scheme === 'sips') return { protocol: 'tls', explicit: true };
  return { protocol: 'udp', explicit: false };
}

export function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** Resolve a SIP URI to one destination (first address; RFC 3263 §4.2 without SRV). */
export async function resolveUri(uri: SipUri, aliases?: ReadonlyMap<string, string>): Promise<Destination> {
  const { protocol, explicit } = protocolOf(uri);
  const maddr = uri.params.get('maddr');
  let host = stripBrackets(maddr ?? uri.host);
  host = aliases?.get(host) ?? host;
  const port = uri.port ?? DEFAULT_PORT[protocol];
  if (isIP(host)) return { protocol, address: host, port, explicitTransport: explicit };
  // RFC 6761 §6.4: `.invalid` never resolves; answer at once rather than wait on DNS (a WS
  // client's Contact host once its connection is gone, §11.3).
  if (/\.invalid\.?$/i.test(host)) throw new DestinationError(`cannot resolve ${host}: .invalid names do not resolve (RFC 6761)`);
  try {
    const res = await lookup(host, { family: 0 });
    return { protocol, address: res.address, port, explicitTransport: explicit };
  } catch (err) {
    throw new DestinationError(`cannot resolve ${host}: ${(err as Error).message}`);
  }
}

/**
 * Choose the listening transport to send from (drachtio-protocol §4.3): same protocol and
 * family; prefer one whose local network contains the destination, then the longest IPv4
 * prefix match, then one with an external IP; 127.0.0.1 transports last unless the
 * destination is loopback.
 */
export function selectTransport(transports: readonly Transport[], protocol: Protocol, address: string): Transport | undefined {
  const family = isIP(address) === 6 ? 6 : 4;
  const candidates = transports.filter((t) => t.protocol === protocol && t.family === family);
  if (candidates.length <= 1) return candidates[0];
  let best: Transport | undefined;
  let bestScore = -Infinity;
  for (const t of candidates) {
    let score = 0;
    if (matchesLocalNet(t, address)) score += 1000;
    if (family === 4) score += prefixMatchLength(t.localAddress, address) * 10;
    if (t.externalIp) score += 5;
    if (t.localAddress.startsWith('127.') && !address.startsWith('127.')) score -= 100;
    if (score > bestScore) {
      best = t;
      bestScore = score;
    }
  }
  return best;
}

/** Host to put in Via/Contact toward this destination: the local address inside local-net (§11.1). */
export function advertisedHostFor(t: Transport, address?: string): string {
  if (t.externalIp && address && matchesLocalNet(t, address)) return hostForUri(t.localAddress);
  return hostForUri(t.advertisedHost);
}

export function hostForUri(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}

/** `<sip:HOST:PORT[;transport=x]>` for Contact and Record-Route (§11.2). */
export function transportUri(t: Transport, address?: string, extraParams = ''): string {
  const transportParam = t.protocol === 'udp' ? '' : `;transport=${t.protocol}`;
  return `${t.scheme}:${advertisedHostFor(t, address)}:${t.advertisedPort}${transportParam}${extraParams}`;
}

/** Is this host one of ours (listening addresses, external IPs, DNS names)? */
export function isLocalHost(transports: readonly Transport[], host: string, port?: number): boolean {
  const h = stripBrackets(host).toLowerCase();
  for (const t of transports) {
    const names = [t.localAddress, t.advertisedHost, t.externalIp, ...t.dnsNames].filter(Boolean) as string[];
    if (t.localAddress === '127.0.0.1') names.push('localhost');
    if (names.some((n) => n.toLowerCase() === h) && (port === undefined || port === t.advertisedPort || port === t.localPort)) return true;
  }
  return false;
}
