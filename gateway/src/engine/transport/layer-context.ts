/**
 * What listeners and connectors need from the TransportLayer that owns them. Keeping this an
 * interface lets every listener live in its own file without importing the layer.
 */
import type { Protocol, Transport } from './types';
import type { FlowConnection, FlowEvents } from './flow-connection';

export interface LayerContext {
  readonly maxMessageBytes: number;
  readonly connectTimeoutMs: number;
  readonly outboundIdleTimeoutMs: number;
  readonly tlsVerifyPeer: boolean;
  /** Handlers every flow reports its messages and its close to. */
  readonly flowEvents: FlowEvents;
  /** May a new inbound flow be accepted (maxConnections)? Logs when refusing. */
  admitInbound(protocol: Protocol, remoteAddress: string, remotePort: number): boolean;
  /** A flow is up: put it in the table and emit 'connection-opened'. */
  flowOpened(connection: FlowConnection): void;
  /** One datagram that holds one SIP message (RFC 3261 §18.3: a datagram is a message). */
  datagram(transport: Transport, data: Buffer, remoteAddress: string, remotePort: number): void;
  /** An inbound message was discarded (count it). */
  dropped(): void;
}

/** A bound listening socket of any protocol. */
export interface Listener {
  readonly transport: Transport;
  /** Stop accepting and release the socket; open flows are closed by the layer. */
  close(): Promise<void>;
}

/** A clear message for a failed bind (EADDRINUSE, EADDRNOTAVAIL, EACCES, ...). */
export function bindErrorMessage(protocol: Protocol, host: string, port: number, err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const where = host.indexOf(':') === -1 ? `${host}:${port}` : `[${host}]:${port}`;
  return `cannot listen on ${protocol} ${where}: ${e.code ?? 'error'} (${e.message})`;
}
