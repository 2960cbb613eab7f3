/**
 * Local-network ("local-net") rules used for transport selection and for choosing between the
 * local and the external address in Via/Contact (drachtio-protocol §4.3 and §11.1).
 *
 * Default derivation when a listen spec has no `localNets` (drachtio-protocol §11.1, which
 * follows drachtio-server's classful guess from the transport's host):
 *
 *   host 127.x.y.z      -> <host>/32           (127.0.0.1 -> 127.0.0.1/32, as drachtio)
 *   host 192.168.a.b    -> 192.168.a.0/24      (drachtio only knows 192.168.0.x -> 192.168.0.0/24)
 *   host 172.16-31.a.b  -> 172.N.0.0/16        (drachtio only knows 172.16.x -> 172.16.0.0/16)
 *   host 10.a.b.c       -> 10.0.0.0/8
 *   anything else       -> none (no destination counts as local; IPv6 included)
 *
 * The host is the bound address, or for a wildcard bind the machine address it advertises.
 * drachtio derives from the external IP when one is set, which never yields a useful local
 * network; we use the local address instead so that Via stays private toward private peers.
 */
import { BlockList } from 'node:net';
import type { Transport } from './types';
import { familyOf, normalizeAddress } from './ip-address';

/** Parse dotted-quad IPv4 into its four octets, or undefined when it is not one. */
function ipv4Octets(address: string): number[] | undefined {
  const parts = address.split('.');
  if (parts.length !== 4) return undefined;
  const out: number[] = [];
  for (const p of parts) {
    if (p.length === 0 || p.length > 3 || !/^\d+$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out.push(n);
  }
  return out;
}

/** The default local networks for a transport whose local host is `host` (see file comment). */
export function deriveLocalNets(host: string): string[] {
  const o = ipv4Octets(normalizeAddress(host));
  if (!o) return [];
  if (o[0] === 127) return [`${o.join('.')}/32`];
  if (o[0] === 192 && o[1] === 168) return [`192.168.${o[2]}.0/24`];
  if (o[0] === 172 && o[1] >= 16 && o[1] <= 31) return [`172.${o[1]}.0.0/16`];
  if (o[0] === 10) return ['10.0.0.0/8'];
  return [];
}

/** Compiled matchers, one per localNets array (transports are immutable, so this never goes stale). */
const compiled = new WeakMap<readonly string[], BlockList>();

function compile(nets: readonly string[]): BlockList {
  let list = compiled.get(nets);
  if (list) return list;
  list = new BlockList();
  for (const cidr of nets) {
    const slash = cidr.indexOf('/');
    const net = normalizeAddress(slash === -1 ? cidr : cidr.slice(0, slash));
    const family = familyOf(net);
    const prefix = slash === -1 ? (family === 4 ? 32 : 128) : Number(cidr.slice(slash + 1));
    try {
      list.addSubnet(net, prefix, family === 4 ? 'ipv4' : 'ipv6');
    } catch {
      // A malformed CIDR in the configuration simply matches nothing; the config layer validates.
    }
  }
  compiled.set(nets, list);
  return list;
}

/** True when `ip` lies inside one of the transport's local networks (drachtio `isInNetwork`). */
export function matchesLocalNet(transport: Pick<Transport, 'localNets'>, ip: string): boolean {
  if (transport.localNets.length === 0) return false;
  const addr = normalizeAddress(ip);
  try {
    return compile(transport.localNets).check(addr, familyOf(addr) === 4 ? 'ipv4' : 'ipv6');
  } catch {
    return false; // not an IP literal (a DNS name): not provably local
  }
}

/**
 * Number of leading IPv4 octets two addresses share (0..4); 0 when either is not IPv4. The core
 * prefers the transport with the longest match when no local network decides (spec §4.3).
 */
export function prefixMatchLength(a: string, b: string): number {
  const x = ipv4Octets(normalizeAddress(a));
  const y = ipv4Octets(normalizeAddress(b));
  if (!x || !y) return 0;
  let n = 0;
  while (n < 4 && x[n] === y[n]) n++;
  return n;
}
