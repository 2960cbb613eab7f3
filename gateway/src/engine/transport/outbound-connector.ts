/**
 * Opens outbound flows when no reusable one exists (RFC 3261 §18.1.1: a client transaction
 * over a reliable transport opens a connection to the destination if none is open).
 *
 * - tcp / tls: node:net / node:tls; tls presents the listener's certificate (mutual TLS peers
 *   expect it) and verifies the peer only when `tlsVerifyPeer` is set (sofia's default is
 *   TPTLS_VERIFY_NONE, which drachtio deployments rely on).
 * - ws / wss: a `ws` client offering the `sip` subprotocol (RFC 7118 §4.1); the ws library
 *   fails the handshake if the server does not select it.
 * - The source address is pinned to the listener's address when that is a specific address
 *   of the right family and scope, so the peer sees the identity we advertise.
 * - Connect and handshake together are bounded by connectTimeoutMs.
 */
import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls, type ConnectionOptions } from 'node:tls';
import type { IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import type { Logger } from '../../logging/logger';
import type { Protocol, Transport } from './types';
import type { LayerContext } from './layer-context';
import type { TlsCredentials } from './tls-credentials';
import type { FlowConnection, FlowEndpoints } from './flow-connection';
import { StreamConnection } from './stream-connection';
import { WebSocketConnection } from './websocket-connection';
import { TransportError } from './transport-error';
import { familyOf, formatHostPort, isLoopback, isWildcard } from './ip-address';

export interface OutboundRequest {
  protocol: Protocol;
  address: string;
  port: number;
  /** The listener whose identity the flow carries. */
  transport: Transport;
  credentials?: TlsCredentials;
  /** Aborted when the layer shuts down, so no connect outlives it. */
  signal?: AbortSignal;
}

/** The listener's address to bind the outbound socket to, or undefined to let the OS choose. */
export function sourceAddressFor(transport: Transport, destination: string): string | undefined {
  const local = transport.localAddress;
  if (isWildcard(local)) return undefined;
  if (familyOf(local) !== familyOf(destination)) return undefined;
  // A loopback source cannot reach other hosts, and vice versa the OS picks loopback itself.
  if (isLoopback(local) !== isLoopback(destination)) return undefined;
  return local;
}

/** Run `abort` when the signal fires; returns the un-registration to call once settled. */
function onAbort(signal: AbortSignal | undefined, abort: () => void): () => void {
  if (!signal) return () => undefined;
  if (signal.aborted) {
    queueMicrotask(abort);
    return () => undefined;
  }
  signal.addEventListener('abort', abort, { once: true });
  return () => signal.removeEventListener('abort', abort);
}

function connectFailure(req: OutboundRequest, detail: string): TransportError {
  return new TransportError(`${req.protocol} connect to ${formatHostPort(req.address, req.port)} failed: ${detail}`, 'ECONNECT');
}

export function openOutboundFlow(req: OutboundRequest, ctx: LayerContext, log: Logger): Promise<FlowConnection> {
  switch (req.protocol) {
    case 'tcp':
    case 'tls':
      return connectStream(req, ctx, log);
    case 'ws':
    case 'wss':
      return connectWebSocket(req, ctx, log);
    default:
      return Promise.reject(new TransportError(`${req.protocol} is not connection-oriented`, 'ENOTRANSPORT'));
  }
}

/** tls.connect hands unknown options to net.Socket#connect at runtime; localAddress is one. */
function tlsOptions(req: OutboundRequest, ctx: LayerContext, localAddress: string | undefined): ConnectionOptions {
  const options: ConnectionOptions & { localAddress?: string } = {
    host: req.address,
    port: req.port,
    localAddress,
    rejectUnauthorized: ctx.tlsVerifyPeer,
    key: req.credentials?.key,
    cert: req.credentials?.cert,
  };
  return options;
}

function connectStream(req: OutboundRequest, ctx: LayerContext, log: Logger): Promise<FlowConnection> {
  const localAddress = sourceAddressFor(req.transport, req.address);
  const secure = req.protocol === 'tls';
  let socket: Socket;
  try {
    socket = secure
      ? connectTls(tlsOptions(req, ctx, localAddress))
      : connectTcp({ host: req.address, port: req.port, localAddress });
  } catch (err) {
    return Promise.reject(connectFailure(req, (err as Error).message));
  }
  return new Promise<FlowConnection>((resolve, reject) => {
    let settled = false;
    const fail = (detail: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      unregister();
      socket.destroy();
      reject(connectFailure(req, detail));
    };
    const timer = setTimeout(() => fail(`no ${secure ? 'handshake' : 'connection'} within ${ctx.connectTimeoutMs} ms`), ctx.connectTimeoutMs);
    const unregister = onAbort(req.signal, () => fail('transport layer closing'));
    const onError = (err: NodeJS.ErrnoException): void => fail(err.code ?? err.message);
    const onClose = (): void => fail('closed during connect');
    socket.on('error', onError); // kept (not once) so a second error cannot go unhandled
    socket.once('close', onClose);
    socket.once(secure ? 'secureConnect' : 'connect', () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      unregister();
      const connection = new StreamConnection(
        req.protocol,
        req.transport,
        false,
        socket,
        ctx.flowEvents,
        { maxMessageBytes: ctx.maxMessageBytes, idleTimeoutMs: ctx.outboundIdleTimeoutMs },
        log,
      );
      socket.off('error', onError);
      socket.off('close', onClose);
      ctx.flowOpened(connection);
      resolve(connection);
    });
  });
}

function connectWebSocket(req: OutboundRequest, ctx: LayerContext, log: Logger): Promise<FlowConnection> {
  const url = `${req.protocol}://${formatHostPort(req.address, req.port)}/`;
  let ws: WebSocket;
  try {
    ws = new WebSocket(url, ['sip'], {
      handshakeTimeout: ctx.connectTimeoutMs,
      maxPayload: ctx.maxMessageBytes,
      perMessageDeflate: false,
      localAddress: sourceAddressFor(req.transport, req.address),
      rejectUnauthorized: ctx.tlsVerifyPeer,
      key: req.credentials?.key,
      cert: req.credentials?.cert,
    });
  } catch (err) {
    return Promise.reject(connectFailure(req, (err as Error).message));
  }
  return new Promise<FlowConnection>((resolve, reject) => {
    let endpoints: FlowEndpoints | undefined;
    let settled = false;
    const fail = (detail: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      unregister();
      ws.terminate();
      reject(connectFailure(req, detail));
    };
    const timer = setTimeout(() => fail(`no handshake within ${ctx.connectTimeoutMs} ms`), ctx.connectTimeoutMs);
    const unregister = onAbort(req.signal, () => fail('transport layer closing'));
    const onError = (err: Error): void => fail(err.message);
    const onClose = (): void => fail('closed during handshake');
    ws.on('error', onError); // kept (not once) so a second error cannot go unhandled
    ws.once('close', onClose);
    ws.once('upgrade', (res: IncomingMessage) => {
      const s = res.socket;
      endpoints = {
        remoteAddress: s.remoteAddress ?? req.address,
        remotePort: s.remotePort ?? req.port,
        localAddress: s.localAddress ?? req.transport.localAddress,
        localPort: s.localPort ?? 0,
      };
    });
    ws.once('open', () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      unregister();
      const connection = new WebSocketConnection(
        req.protocol,
        req.transport,
        false,
        ws,
        endpoints ?? { remoteAddress: req.address, remotePort: req.port, localAddress: req.transport.localAddress, localPort: 0 },
        ctx.flowEvents,
        log,
      );
      ws.off('error', onError);
      ws.off('close', onClose);
      ctx.flowOpened(connection);
      resolve(connection);
    });
  });
}
