/**
 * Public shapes of the transport layer (RFC 3261 §18). The core codes against these; the
 * implementation classes live in the other files of this folder.
 *
 * Addresses are always IP literals without brackets ('::1', not '[::1]'); IPv4 peers seen on a
 * dual-stack IPv6 socket are reported as plain IPv4 ('10.0.0.1', not '::ffff:10.0.0.1').
 */

export type Protocol = 'udp' | 'tcp' | 'tls' | 'ws' | 'wss';

/** One listening socket to open (drachtio-protocol §11.1, one `--contact` per protocol). */
export interface ListenSpec {
  protocol: Protocol;
  /** A wildcard ('0.0.0.0', '::', '*') or an address. */
  host: string;
  /** 0 asks for an ephemeral port. */
  port: number;
  externalIp?: string;
  localNets?: string[];
  dnsNames?: string[];
  /** PEM file paths, required for tls and wss. */
  tls?: { keyFile: string; certFile: string; chainFile?: string };
  scheme?: 'sip' | 'sips';
  /** Optional HTTP path filter for the ws/wss upgrade; any path when absent. */
  wsPath?: string;
}

/** One listening socket. */
export interface Transport {
  /** e.g. 'udp/127.0.0.1:5060', 'tcp/[::1]:5060'. */
  readonly id: string;
  readonly protocol: Protocol;
  /** Actual bound address ('0.0.0.0' / '::' for wildcard binds). */
  readonly localAddress: string;
  /** Actual bound port (resolved when 0 was asked). */
  readonly localPort: number;
  readonly family: 4 | 6;
  readonly externalIp?: string;
  /** CIDRs; derived from the host when not configured (see local-network.ts). */
  readonly localNets: string[];
  readonly dnsNames: string[];
  readonly scheme: 'sip' | 'sips';
  /** externalIp ?? bound address; a wildcard bind advertises the machine's first non-internal IPv4. */
  readonly advertisedHost: string;
  readonly advertisedPort: number;
}

/** One connection-oriented flow (tcp, tls, ws, wss), inbound or outbound. */
export interface Connection {
  readonly id: string;
  readonly protocol: Protocol;
  /** The listening transport it belongs to (outbound ones: the listener used as source identity). */
  readonly transport: Transport;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly closed: boolean;
  readonly inbound: boolean;
}

export interface InboundMessage {
  /** Exactly one SIP message (start line .. end of body). */
  data: Buffer;
  transport: Transport;
  /** Set for stream and websocket transports. */
  connection?: Connection;
  protocol: Protocol;
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
  /** Date.now() when the message was framed. */
  receivedAt: number;
}

export interface SendTarget {
  protocol: Protocol;
  /** An IP literal (the core resolves names first). */
  address: string;
  port: number;
  /** Send on this one if still open (RFC 3261 §18.2.2 responses, dialogs, WS registrations). */
  connection?: Connection;
  /** Preferred listening transport (for UDP: the socket to send from). */
  transport?: Transport;
}

export interface SendResult {
  transport: Transport;
  connection?: Connection;
  localAddress: string;
  localPort: number;
}

export interface TransportLayerOptions {
  /** Largest SIP message accepted on any transport. Default 65535. */
  maxMessageBytes?: number;
  /** Open connections (inbound + outbound) above which new inbound ones are refused. Default 10000. */
  maxConnections?: number;
  /** Outbound tcp/tls/ws/wss connect (and handshake) timeout. Default 5000. */
  connectTimeoutMs?: number;
  /** Close outbound tcp/tls connections idle this long. Default 300000; inbound and ws: none. */
  outboundIdleTimeoutMs?: number;
  /**
   * Verify the peer certificate on outbound tls/wss. Default false, like sofia-sip's default
   * TPTLS_VERIFY_NONE policy that drachtio runs with. (Addition to the agreed API; optional.)
   */
  tlsVerifyPeer?: boolean;
}

export type TransportStats = { connections: number; messagesIn: number; messagesOut: number; dropped: number };

/** True for the connection-oriented protocols (RFC 3261 §18: "reliable" transports plus RFC 7118). */
export function isConnectionOriented(protocol: Protocol): boolean {
  return protocol !== 'udp';
}
