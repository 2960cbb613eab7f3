/**
 * Builds the immutable `Transport` description of a bound listening socket: its id, family,
 * what it advertises (drachtio-protocol §11.1/§11.2) and its local networks.
 */
import type { ListenSpec, Protocol, Transport } from './types';
import { familyOf, firstNonInternalIPv4, formatHostPort, isWildcard, normalizeAddress } from './ip-address';
import { deriveLocalNets } from './local-network';

/** RFC 3261 §26.2: TLS is the sips transport; everything else defaults to sip. */
function defaultScheme(protocol: Protocol): 'sip' | 'sips' {
  return protocol === 'tls' ? 'sips' : 'sip';
}

/** The address a bind on `host` listens on ('*' and '' mean all IPv4 interfaces). */
export function bindAddressFor(host: string): string {
  const h = normalizeAddress(host.trim());
  return h === '*' || h === '' ? '0.0.0.0' : h;
}

export function describeTransport(spec: ListenSpec, boundAddress: string, boundPort: number): Transport {
  const localAddress = normalizeAddress(boundAddress);
  // A wildcard bind advertises the machine's primary address (what sofia resolves '*' to).
  const localHost = isWildcard(localAddress) ? (firstNonInternalIPv4() ?? '127.0.0.1') : localAddress;
  const externalIp = spec.externalIp ? normalizeAddress(spec.externalIp) : undefined;
  const transport: Transport = {
    id: `${spec.protocol}/${formatHostPort(localAddress, boundPort)}`,
    protocol: spec.protocol,
    localAddress,
    localPort: boundPort,
    family: familyOf(localAddress),
    externalIp,
    localNets: spec.localNets && spec.localNets.length > 0 ? [...spec.localNets] : deriveLocalNets(localHost),
    dnsNames: spec.dnsNames ? [...spec.dnsNames] : [],
    scheme: spec.scheme ?? defaultScheme(spec.protocol),
    advertisedHost: externalIp ?? localHost,
    advertisedPort: boundPort,
  };
  Object.freeze(transport.localNets);
  Object.freeze(transport.dnsNames);
  return Object.freeze(transport);
}
