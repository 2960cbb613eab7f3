/**
 * Common part of every connection-oriented flow (RFC 5626 §3 "flow"): identity, the closed
 * flag, and the exactly-once close notification. Subclasses own the socket.
 */
import type { Connection, Protocol, Transport } from './types';
import { formatHostPort, normalizeAddress } from './ip-address';

/** What a connection reports to the layer that owns it. */
export interface FlowEvents {
  /** One complete inbound SIP message on this flow. */
  message(connection: FlowConnection, data: Buffer): void;
  /** An inbound frame was discarded (not SIP); counted in the layer's stats. */
  dropped(connection: FlowConnection, reason: string): void;
  /** The flow closed (called exactly once, for any reason). */
  closed(connection: FlowConnection, reason: string): void;
}

export interface FlowEndpoints {
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
}

let nextFlowNumber = 1;

export abstract class FlowConnection implements Connection {
  readonly id: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  private isClosed = false;

  protected constructor(
    readonly protocol: Protocol,
    readonly transport: Transport,
    readonly inbound: boolean,
    endpoints: FlowEndpoints,
    protected readonly events: FlowEvents,
  ) {
    this.remoteAddress = normalizeAddress(endpoints.remoteAddress);
    this.remotePort = endpoints.remotePort;
    this.localAddress = normalizeAddress(endpoints.localAddress);
    this.localPort = endpoints.localPort;
    this.id = `${protocol}/${formatHostPort(this.remoteAddress, this.remotePort)}#${nextFlowNumber++}`;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Write one whole SIP message (or a keepalive). Rejects with TransportError. */
  abstract write(data: Buffer): Promise<void>;

  /** Close gracefully (flush what is queued); `destroy` when the layer shuts down. */
  abstract close(reason: string): void;
  abstract destroy(reason: string): void;

  /** Mark closed and notify the layer; idempotent, so 'connection-closed' fires once. */
  protected markClosed(reason: string): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.events.closed(this, reason);
  }

  toString(): string {
    return this.id;
  }
}
