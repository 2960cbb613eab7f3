/**
 * The transport layer (RFC 3261 §18): owns every listening socket and every flow, hands whole
 * inbound SIP messages to one handler, and sends whole messages where the core says.
 *
 * Send rules:
 * - UDP: from target.transport's socket when it is UDP and of the destination's family, else
 *   the first UDP socket of that family (a '::' socket also reaches IPv4). No fallback to TCP
 *   for large messages (drachtio-protocol §11.1 --mtu is ignored); above 65507 bytes: ETOOBIG.
 * - Connection-oriented: target.connection when still open (RFC 3261 §18.2.2 responses,
 *   dialogs, RFC 7118 registrations). When it has closed, another open flow to the same
 *   protocol/address/port is used if one exists, otherwise ECLOSED: a new connection is never
 *   opened in place of a specific one, the core decides what to do next (§18.2.2 fallback).
 *   Without target.connection an open flow to protocol/address/port is reused (§18.1.1),
 *   otherwise one is opened; concurrent sends to the same destination share one connect.
 *
 * Events: 'connection-opened' (Connection), 'connection-closed' (Connection, exactly once).
 * The layer never emits 'error'; listener exceptions in handlers are caught and logged.
 */
import { EventEmitter } from 'node:events';
import { createLogger } from '../../logging/logger';
import type {
  Connection,
  InboundMessage,
  ListenSpec,
  Protocol,
  SendResult,
  SendTarget,
  Transport,
  TransportLayerOptions,
  TransportStats,
} from './types';
import { TransportError } from './transport-error';
import { ConnectionTable, flowKey } from './connection-table';
import type { FlowConnection, FlowEvents } from './flow-connection';
import type { LayerContext, Listener } from './layer-context';
import { MAX_UDP_PAYLOAD, UdpListener } from './udp-listener';
import { StreamListener } from './stream-listener';
import { WebSocketListener } from './websocket-listener';
import { loadTlsCredentials, type TlsCredentials } from './tls-credentials';
import { openOutboundFlow } from './outbound-connector';
import { bindAddressFor } from './transport-descriptor';
import { familyOf, isIpLiteral, isWildcard, normalizeAddress } from './ip-address';
import { peerWarnings } from './log-throttle';

const PROTOCOLS: ReadonlySet<string> = new Set<Protocol>(['udp', 'tcp', 'tls', 'ws', 'wss']);

export class TransportLayer extends EventEmitter {
  private readonly log = createLogger('transport');
  private readonly maxConnections: number;
  private readonly ctx: LayerContext;
  private readonly openListeners: Listener[] = [];
  private readonly udpListeners: UdpListener[] = [];
  private readonly listenerOf = new Map<Transport, Listener>();
  private transportList: readonly Transport[] = [];
  private readonly table = new ConnectionTable();
  private readonly connecting = new Map<string, Promise<FlowConnection>>();
  private readonly shutdownSignal = new AbortController();
  private handler: ((m: InboundMessage) => void) | undefined;
  private messagesIn = 0;
  private messagesOut = 0;
  private droppedCount = 0;
  private closing: Promise<void> | undefined;

  constructor(opts: TransportLayerOptions = {}) {
    super();
    this.maxConnections = opts.maxConnections ?? 10_000;
    const flowEvents: FlowEvents = {
      message: (c, data) => this.onFlowMessage(c, data),
      dropped: () => {
        this.droppedCount++;
      },
      closed: (c, reason) => this.onFlowClosed(c, reason),
    };
    this.ctx = {
      maxMessageBytes: opts.maxMessageBytes ?? 65_535,
      connectTimeoutMs: opts.connectTimeoutMs ?? 5_000,
      outboundIdleTimeoutMs: opts.outboundIdleTimeoutMs ?? 300_000,
      tlsVerifyPeer: opts.tlsVerifyPeer ?? false,
      flowEvents,
      admitInbound: (protocol, address, port) => this.admitInbound(protocol, address, port),
      flowOpened: (c) => this.onFlowOpened(c),
      datagram: (t, data, address, port) => this.onDatagram(t, data, address, port),
      dropped: () => {
        this.droppedCount++;
      },
    };
  }

  async listen(specs: ListenSpec[]): Promise<Transport[]> {
    if (this.closing) throw new TransportError('transport layer is closed', 'ECLOSED');
    const opened: Listener[] = [];
    try {
      for (const spec of specs) opened.push(await this.openListener(spec));
    } catch (err) {
      await Promise.all(opened.map((l) => l.close()));
      if (err instanceof TransportError) throw err;
      throw new TransportError((err as Error).message, 'EIO');
    }
    for (const l of opened) {
      this.openListeners.push(l);
      this.listenerOf.set(l.transport, l);
      if (l instanceof UdpListener) this.udpListeners.push(l);
    }
    this.transportList = Object.freeze(this.openListeners.map((l) => l.transport));
    return opened.map((l) => l.transport);
  }

  private async openListener(spec: ListenSpec): Promise<Listener> {
    if (!PROTOCOLS.has(spec.protocol)) throw new TransportError(`unknown protocol '${spec.protocol}'`, 'ENOTRANSPORT');
    if (!Number.isInteger(spec.port) || spec.port < 0 || spec.port > 65535) {
      throw new TransportError(`invalid port ${spec.port} for ${spec.protocol}`, 'EIO');
    }
    const address = bindAddressFor(spec.host);
    if (!isWildcard(address) && !isIpLiteral(address)) {
      throw new TransportError(`${spec.protocol} listen host must be an IP address or a wildcard, got '${spec.host}'`, 'EIO');
    }
    let credentials: TlsCredentials | undefined;
    if (spec.protocol === 'tls' || spec.protocol === 'wss') credentials = await loadTlsCredentials(spec);
    switch (spec.protocol) {
      case 'udp':
        return UdpListener.open(spec, this.ctx, this.log);
      case 'tcp':
      case 'tls':
        return StreamListener.open(spec, this.ctx, this.log, credentials);
      default:
        return WebSocketListener.open(spec, this.ctx, this.log, credentials);
    }
  }

  get transports(): readonly Transport[] {
    return this.transportList;
  }

  onMessage(handler: (m: InboundMessage) => void): void {
    this.handler = handler;
  }

  send(data: Buffer, target: SendTarget): Promise<SendResult> {
    if (this.closing) return Promise.reject(new TransportError('transport layer is closed', 'ECLOSED'));
    if (target.connection) return this.sendOnConnection(data, target.connection);
    if (target.protocol === 'udp') return this.sendUdp(data, target);
    return this.sendOnFlow(data, target);
  }

  private async sendUdp(data: Buffer, target: SendTarget): Promise<SendResult> {
    if (data.length > MAX_UDP_PAYLOAD) {
      throw new TransportError(`message of ${data.length} bytes exceeds the UDP maximum of ${MAX_UDP_PAYLOAD}`, 'ETOOBIG');
    }
    const address = normalizeAddress(target.address);
    const listener = this.pickUdp(familyOf(address), target.transport);
    if (!listener) throw new TransportError(`no udp transport for IPv${familyOf(address)} destination ${address}`, 'ENOTRANSPORT');
    await listener.send(data, address, target.port);
    this.messagesOut++;
    const t = listener.transport;
    return { transport: t, localAddress: t.localAddress, localPort: t.localPort };
  }

  private pickUdp(family: 4 | 6, preferred: Transport | undefined): UdpListener | undefined {
    const pref = preferred ? this.listenerOf.get(preferred) : undefined;
    if (pref instanceof UdpListener && pref.transport.family === family) return pref;
    for (const l of this.udpListeners) if (l.transport.family === family) return l;
    if (pref instanceof UdpListener && pref.canReach(family)) return pref;
    for (const l of this.udpListeners) if (l.canReach(family)) return l;
    return undefined;
  }

  private async sendOnConnection(data: Buffer, requested: Connection): Promise<SendResult> {
    let flow = this.table.get(requested.id);
    if (!flow || flow.closed) {
      flow = this.table.find(requested.protocol, requested.remoteAddress, requested.remotePort);
      if (!flow) throw new TransportError(`connection ${requested.id} is closed`, 'ECLOSED');
    }
    return this.writeFlow(flow, data);
  }

  private async sendOnFlow(data: Buffer, target: SendTarget): Promise<SendResult> {
    const address = normalizeAddress(target.address);
    const flow = this.table.find(target.protocol, address, target.port) ?? (await this.connect(target.protocol, address, target.port, target.transport));
    return this.writeFlow(flow, data);
  }

  private async writeFlow(flow: FlowConnection, data: Buffer): Promise<SendResult> {
    await flow.write(data);
    this.messagesOut++;
    return { transport: flow.transport, connection: flow, localAddress: flow.localAddress, localPort: flow.localPort };
  }

  private connect(protocol: Protocol, address: string, port: number, preferred: Transport | undefined): Promise<FlowConnection> {
    const key = flowKey(protocol, address, port);
    const pending = this.connecting.get(key);
    if (pending) return pending;
    const listener = this.pickListener(protocol, familyOf(address), preferred);
    if (!listener) return Promise.reject(new TransportError(`no ${protocol} transport to connect from`, 'ENOTRANSPORT'));
    const credentials =
      listener instanceof StreamListener || listener instanceof WebSocketListener ? listener.credentials : undefined;
    const attempt = openOutboundFlow({ protocol, address, port, transport: listener.transport, credentials, signal: this.shutdownSignal.signal }, this.ctx, this.log);
    const tracked = attempt.finally(() => this.connecting.delete(key));
    this.connecting.set(key, tracked);
    return tracked;
  }

  /** The listener an outbound flow takes its identity from: preferred, same family, or any. */
  private pickListener(protocol: Protocol, family: 4 | 6, preferred: Transport | undefined): Listener | undefined {
    if (preferred && preferred.protocol === protocol && this.listenerOf.has(preferred)) return this.listenerOf.get(preferred);
    let any: Listener | undefined;
    for (const l of this.openListeners) {
      if (l.transport.protocol !== protocol) continue;
      if (l.transport.family === family) return l;
      any ??= l;
    }
    return any;
  }

  findConnection(protocol: Protocol, address: string, port: number): Connection | undefined {
    return this.table.find(protocol, address, port);
  }

  getConnection(id: string): Connection | undefined {
    return this.table.get(id);
  }

  closeConnection(id: string): void {
    this.table.get(id)?.close('closed by request');
  }

  close(): Promise<void> {
    if (!this.closing) this.closing = this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.shutdownSignal.abort();
    for (const c of this.table.all()) c.destroy('transport layer closing');
    await Promise.all(
      this.openListeners.map((l) =>
        l.close().catch((err: Error) => this.log.warn({ transport: l.transport.id, err: err.message }, 'close failed')),
      ),
    );
    this.log.info({ transports: this.openListeners.length }, 'transport layer closed');
  }

  stats(): TransportStats {
    return {
      connections: this.table.size,
      messagesIn: this.messagesIn,
      messagesOut: this.messagesOut,
      dropped: this.droppedCount,
    };
  }

  // ---- callbacks from listeners and flows ----

  private admitInbound(protocol: Protocol, address: string, port: number): boolean {
    if (this.closing) return false;
    if (this.table.size < this.maxConnections) return true;
    // At most one line a second: a connection flood must not become a log flood.
    const suppressed = peerWarnings.admit('max-connections');
    if (suppressed !== undefined) {
      this.log.warn({ protocol, from: `${address}:${port}`, max: this.maxConnections, suppressed }, 'refusing inbound connection: maxConnections reached');
    }
    return false;
  }

  private onFlowOpened(c: FlowConnection): void {
    if (this.closing) {
      c.destroy('transport layer closing');
      return;
    }
    this.table.add(c);
    this.log.debug({ connection: c.id, inbound: c.inbound, transport: c.transport.id }, 'connection opened');
    this.emitSafely('connection-opened', c);
  }

  private onFlowClosed(c: FlowConnection, reason: string): void {
    this.table.remove(c);
    this.log.debug({ connection: c.id, reason }, 'connection closed');
    this.emitSafely('connection-closed', c);
  }

  private onFlowMessage(c: FlowConnection, data: Buffer): void {
    this.messagesIn++;
    this.deliver({
      data,
      transport: c.transport,
      connection: c,
      protocol: c.protocol,
      remoteAddress: c.remoteAddress,
      remotePort: c.remotePort,
      localAddress: c.localAddress,
      localPort: c.localPort,
      receivedAt: Date.now(),
    });
  }

  private onDatagram(t: Transport, data: Buffer, address: string, port: number): void {
    this.messagesIn++;
    this.deliver({
      data,
      transport: t,
      protocol: 'udp',
      remoteAddress: address,
      remotePort: port,
      localAddress: t.localAddress,
      localPort: t.localPort,
      receivedAt: Date.now(),
    });
  }

  private deliver(m: InboundMessage): void {
    const handler = this.handler;
    if (!handler) {
      this.droppedCount++;
      return;
    }
    try {
      handler(m);
    } catch (err) {
      this.log.error({ err: (err as Error).message, from: `${m.remoteAddress}:${m.remotePort}` }, 'message handler threw');
    }
  }

  private emitSafely(event: 'connection-opened' | 'connection-closed', c: Connection): void {
    try {
      this.emit(event, c);
    } catch (err) {
      this.log.error({ event, err: (err as Error).message }, 'event listener threw');
    }
  }
}
