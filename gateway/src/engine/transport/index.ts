/**
 * Transport layer (RFC 3261 §18, RFC 7118, RFC 5626 keepalives): UDP, TCP, TLS, WS and WSS
 * listeners, the connection table, and whole-message send/receive. The core parses messages,
 * adds received/rport (RFC 3581) and decides where to send; this layer only moves bytes.
 */
export type {
  Protocol,
  ListenSpec,
  Transport,
  Connection,
  InboundMessage,
  SendTarget,
  SendResult,
  TransportLayerOptions,
  TransportStats,
} from './types';
export { isConnectionOriented } from './types';
export { TransportError, type TransportErrorCode } from './transport-error';
export { TransportLayer } from './transport-layer';
export { matchesLocalNet, prefixMatchLength, deriveLocalNets } from './local-network';
export { normalizeAddress, formatHostPort } from './ip-address';
