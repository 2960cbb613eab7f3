/**
 * Flow tokens in our Record-Route (the idea of RFC 5626 §5.3): when a request we Record-Route
 * arrived on a connection (TCP, TLS, WS, WSS), the inbound-side Record-Route entry names that
 * connection, so requests coming back the other way reach the client over the very same
 * connection - also when its Contact is unreachable (`.invalid` WebSocket clients, NAT).
 * The token is authenticated with a per-process key so a peer cannot steer requests onto
 * someone else's connection.
 */
import { createHmac, randomBytes } from 'node:crypto';

const KEY = randomBytes(32);
export const FLOW_PARAM = 'drflow';

function mac(idHex: string): string {
  return createHmac('sha256', KEY).update(idHex).digest('hex').slice(0, 20);
}

export function makeFlowToken(connectionId: string): string {
  const idHex = Buffer.from(connectionId, 'utf8').toString('hex');
  return `${idHex}.${mac(idHex)}`;
}

/** The connection id a token names, or undefined when it is not one of ours. */
export function readFlowToken(token: string | null | undefined): string | undefined {
  const m = /^([0-9a-f]+)\.([0-9a-f]{20})$/.exec(token ?? '');
  if (!m || mac(m[1]) !== m[2]) return undefined;
  return Buffer.from(m[1], 'hex').toString('utf8');
}
