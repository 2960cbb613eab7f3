/**
 * SIP helpers shared by the stateful and the stateless halves of the proxy (RFC 3261 §16):
 * copying messages, recognising URIs that address this server, Max-Forwards, Record-Route
 * values, CANCEL construction and choosing the flow toward a next hop.
 */
import { isIP } from 'node:net';
import { parseNameAddr } from '../sip/headers';
import { headerKey, SipRequest, SipResponse, type SipMessage } from '../sip/message';
import { tryParseUri, type SipUri } from '../sip/uri';
import type { Connection, Protocol, Transport } from '../transport';
import { isLocalHost, protocolOf, resolveUri, selectTransport, transportUri } from '../core/destinations';
import type { Engine } from '../core/engine';
import type { Flow } from '../core/pending';

export const DEFAULT_PORTS: Record<Protocol, number> = { udp: 5060, tcp: 5060, tls: 5061, ws: 80, wss: 443 };

function copyInto<T extends SipMessage>(to: T, from: SipMessage): T {
  to.headers = from.headers.map((h) => ({ name: h.name, value: h.value }));
  to.body = from.body;
  return to;
}

export function cloneRequest(req: SipRequest): SipRequest {
  return copyInto(new SipRequest(req.method, req.uri, req.version), req);
}

export function cloneResponse(res: SipResponse): SipResponse {
  return copyInto(new SipResponse(res.status, res.reason, res.version), res);
}

/** RFC 3261 §16.7 step 3: the response to send upstream is the branch's response minus our Via. */
export function upstreamCopy(res: SipResponse): SipResponse {
  const up = cloneResponse(res);
  up.shiftHeaderValue('Via');
  return up;
}

/** The URI of one Route / Record-Route / Path value, or undefined when it does not parse. */
export function routeUri(value: string): SipUri | undefined {
  try {
    return tryParseUri(parseNameAddr(value).uri);
  } catch {
    return undefined;
  }
}

/** Port a URI implies when it names none (RFC 3263 §4.2 fallback). */
export function impliedPort(uri: SipUri): number {
  return uri.port ?? DEFAULT_PORTS[protocolOf(uri).protocol];
}

/** Does this sip/sips URI address one of our listening transports (host and port)? */
export function isOurUri(e: Engine, uri: SipUri | string | undefined): boolean {
  const u = typeof uri === 'string' ? tryParseUri(uri) : uri;
  if (!u || (u.scheme !== 'sip' && u.scheme !== 'sips')) return false;
  return isLocalHost(e.transports, u.host, impliedPort(u));
}

/**
 * RFC 3261 §16.6 step 3: decrement Max-Forwards, or add one of 70. Returns false when the value
 * is already 0 (§16.3 step 3: the request must not be forwarded).
 */
export function decrementMaxForwards(req: SipRequest): boolean {
  const mf = req.getHeader('Max-Forwards');
  if (mf === undefined) {
    req.addHeader('Max-Forwards', '70');
    return true;
  }
  const n = parseInt(mf.trim(), 10);
  if (!Number.isFinite(n) || n <= 0) return false;
  req.setHeader('Max-Forwards', String(n - 1));
  return true;
}

export function maxForwardsIsZero(req: SipRequest): boolean {
  const mf = req.getHeader('Max-Forwards');
  return mf !== undefined && parseInt(mf.trim(), 10) === 0;
}

/**
 * RFC 3261 §16.4: remove the Route entries at the top that address this proxy (pre-loaded
 * routes, or one per side when we double Record-Routed). Returns how many were removed.
 */
export function popOwnRoutes(e: Engine, req: SipRequest, needLr: boolean): number {
  let n = 0;
  for (;;) {
    const top = req.getHeaderValues('Route')[0];
    if (top === undefined) return n;
    const u = routeUri(top);
    if (!u || !isOurUri(e, u) || (needLr && !u.params.has('lr'))) return n;
    req.shiftHeaderValue('Route');
    n++;
  }
}

/** `<sip:HOST:PORT[;transport=x];lr>` for Record-Route and Path (drachtio-protocol §11.2). */
export function recordRouteValue(t: Transport, towardAddress?: string, extraParams = ''): string {
  return `<${transportUri(t, towardAddress, `;lr${extraParams}`)}>`;
}

export function flowOfConnection(c: Connection): Flow {
  return { protocol: c.protocol, address: c.remoteAddress, port: c.remotePort, transport: c.transport, connection: c };
}

export class RoutingError extends Error {}

/**
 * Where a request toward `nextHop` goes (drachtio-protocol §7.2 "Transport", §11.4):
 *  - a connection cached from a registration for `cacheKey` (the Request-URI) wins;
 *  - `.invalid` hosts can only be reached that way;
 *  - otherwise resolve, pick a transport of the URI's protocol, and when no UDP transport fits
 *    and the URI named no transport, try TCP.
 */
export async function resolveFlow(e: Engine, nextHop: SipUri, cacheKey?: string): Promise<Flow> {
  if (cacheKey !== undefined) {
    const cached = e.registrations.lookup(cacheKey);
    if (cached) return flowOfConnection(cached);
  }
  if (nextHop.scheme !== 'sip' && nextHop.scheme !== 'sips') throw new RoutingError(`cannot route to a ${nextHop.scheme}: URI`);
  if (nextHop.host.endsWith('.invalid')) {
    const cached = e.registrations.lookup(nextHop.toString());
    if (cached) return flowOfConnection(cached);
    throw new RoutingError(`no connection for ${nextHop.toString()}`);
  }
  const dest = await resolveUri(nextHop, e.config.hostAliases);
  let protocol = dest.protocol;
  let transport = selectTransport(e.transports, protocol, dest.address);
  if (!transport && !dest.explicitTransport) {
    protocol = 'tcp';
    transport = selectTransport(e.transports, protocol, dest.address);
  }
  if (!transport) throw new RoutingError('requested protocol/transport not available');
  if (isLocalHost(e.transports, dest.address, dest.port)) throw new RoutingError('can not send request to myself');
  const connection = protocol === 'udp' ? undefined : e.transportLayer.findConnection(protocol, dest.address, dest.port);
  return { protocol, address: dest.address, port: dest.port, transport, connection };
}

/** Via transport token -> our protocol name (RFC 3261 §18, RFC 7118). */
export function protocolOfVia(transport: string): Protocol | undefined {
  const t = transport.toLowerCase();
  return t === 'udp' || t === 'tcp' || t === 'tls' || t === 'ws' || t === 'wss' ? t : undefined;
}

export function isIpLiteral(host: string): boolean {
  return isIP(host) !== 0;
}

/** One message on a flow, through the engine's channel (so it is wire-logged like the rest). */
export function sendOn(e: Engine, flow: Flow, msg: SipMessage): Promise<unknown> {
  return e.requestChannel(flow.protocol, flow.address, flow.port, flow.transport, flow.connection).send(msg);
}

/**
 * Insert a Record-Route (or Path) value above the existing ones (RFC 3261 §16.6 step 4), keeping
 * the Via block together: before the first line of that header, else right after the last Via.
 */
export function insertTopHeader(msg: SipMessage, name: 'Record-Route' | 'Path', value: string): void {
  const key = name.toLowerCase();
  const lines = msg.headers;
  let at = lines.findIndex((h) => headerKey(h.name) === key);
  if (at < 0) {
    at = 0;
    lines.forEach((h, i) => {
      if (headerKey(h.name) === 'via') at = i + 1;
    });
  }
  lines.splice(at, 0, { name, value });
}
