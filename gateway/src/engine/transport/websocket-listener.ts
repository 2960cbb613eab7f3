/**
 * A ws or wss listening socket: an HTTP(S) server whose Upgrade requests become SIP-over-
 * WebSocket flows (RFC 7118) through the `ws` library.
 *
 * Subprotocol (RFC 7118 §4.1, RFC 6455 §4.2.2): when the client offers `sip` we select and
 * echo it. A client offering no subprotocol at all is accepted with a warning (drachtio
 * accepts such clients too). A client offering only other subprotocols gets 400.
 * A request that is not an Upgrade gets 426 Upgrade Required (RFC 7231 §6.5.15); malformed
 * HTTP gets 400. None of these ever reaches the core.
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Server, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from '../../logging/logger';
import type { ListenSpec, Transport } from './types';
import type { LayerContext, Listener } from './layer-context';
import { bindAddressFor, describeTransport } from './transport-descriptor';
import { SocketTracker, closeServer, listenServer } from './stream-listener';
import type { TlsCredentials } from './tls-credentials';
import { TransportError } from './transport-error';
import { WebSocketConnection } from './websocket-connection';
import { normalizeAddress } from './ip-address';
import { peerWarnings } from './log-throttle';

const SIP_SUBPROTOCOL = 'sip';
const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

/** The subprotocols a client offered (Sec-WebSocket-Protocol is a comma-separated list). */
export function offeredSubprotocols(header: string | string[] | undefined): string[] {
  if (header === undefined) return [];
  const joined = Array.isArray(header) ? header.join(',') : header;
  return joined
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
}

/** The offered spelling of `sip` (matched case-insensitively, echoed as offered), if any. */
function pickSip(offered: Iterable<string>): string | undefined {
  for (const p of offered) if (p.toLowerCase() === SIP_SUBPROTOCOL) return p;
  return undefined;
}

function pathOf(url: string | undefined): string {
  if (!url) return '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/** Answer an upgrade request with an HTTP error and close the socket. */
function refuseUpgrade(socket: Socket, status: number, reason: string): void {
  if (socket.writable) {
    socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  }
  setTimeout(() => socket.destroy(), 1_000).unref();
}

export class WebSocketListener implements Listener {
  private readonly sockets = new SocketTracker();
  private readonly wss: WebSocketServer;
  private closing: Promise<void> | undefined;

  private constructor(
    readonly transport: Transport,
    private readonly server: Server,
    private readonly spec: ListenSpec,
    private readonly ctx: LayerContext,
    private readonly log: Logger,
    readonly credentials: TlsCredentials | undefined,
  ) {
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: ctx.maxMessageBytes,
      perMessageDeflate: false,
      clientTracking: false,
      handleProtocols: (protocols: Set<string>) => pickSip(protocols) ?? false,
    });
    this.wss.on('error', (err: Error) => log.debug({ transport: transport.id, err: err.message }, 'websocket server error'));
    server.on('error', (err: NodeJS.ErrnoException) => {
      log.error({ transport: transport.id, err: err.code ?? err.message }, 'listener error');
    });
    server.on('connection', (raw: Socket) => {
      raw.on('error', (err: NodeJS.ErrnoException) => {
        log.debug({ transport: transport.id, err: err.code ?? err.message }, 'accepted socket error');
      });
      if (!ctx.admitInbound(transport.protocol, raw.remoteAddress ?? '', raw.remotePort ?? 0)) {
        raw.destroy();
        return;
      }
      this.sockets.track(raw);
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.onPlainRequest(req, res));
    server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => this.onUpgrade(req, socket, head));
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
      log.debug({ transport: transport.id, err: err.code ?? err.message }, 'malformed http request');
      refuseUpgrade(socket, 400, 'Bad Request');
    });
    server.on('tlsClientError', (err: NodeJS.ErrnoException) => {
      log.debug({ transport: transport.id, err: err.code ?? err.message }, 'tls handshake failed');
    });
  }

  static async open(spec: ListenSpec, ctx: LayerContext, log: Logger, credentials?: TlsCredentials): Promise<WebSocketListener> {
    const address = bindAddressFor(spec.host);
    const secure = spec.protocol === 'wss';
    if (secure && !credentials) throw new TransportError('wss listener needs key and certificate', 'EIO');
    const server: Server = secure
      ? createHttpsServer({ key: credentials?.key, cert: credentials?.cert, handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS })
      : createHttpServer();
    await listenServer(server, spec, address);
    const bound = server.address();
    if (!bound || typeof bound === 'string') throw new TransportError(`cannot read bound address of ${spec.protocol}`, 'EIO');
    const transport = describeTransport(spec, bound.address, bound.port);
    log.info({ transport: transport.id, advertised: transport.advertisedHost }, 'listening');
    return new WebSocketListener(transport, server, spec, ctx, log, secure ? credentials : undefined);
  }

  private onPlainRequest(req: IncomingMessage, res: ServerResponse): void {
    this.log.debug({ transport: this.transport.id, method: req.method, url: req.url }, 'plain http request on websocket port');
    res.writeHead(426, {
      Upgrade: 'websocket',
      Connection: 'close',
      'Sec-WebSocket-Protocol': SIP_SUBPROTOCOL,
      'Content-Type': 'text/plain',
    });
    res.end('426 Upgrade Required: this port speaks SIP over WebSocket (RFC 7118)\n');
  }

  private onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.log.debug({ transport: this.transport.id, err: err.code ?? err.message }, 'upgrade socket error');
    });
    if (this.closing) {
      socket.destroy();
      return;
    }
    const from = `${socket.remoteAddress}:${socket.remotePort}`;
    if (this.spec.wsPath && pathOf(req.url) !== this.spec.wsPath) {
      this.log.debug({ transport: this.transport.id, from, url: req.url }, 'websocket upgrade on unknown path');
      refuseUpgrade(socket, 404, 'Not Found');
      return;
    }
    const offered = offeredSubprotocols(req.headers['sec-websocket-protocol']);
    if (offered.length > 0 && pickSip(offered) === undefined) {
      const suppressed = peerWarnings.admit('ws-no-sip');
      if (suppressed !== undefined) {
        this.log.warn({ transport: this.transport.id, from, offered, suppressed }, 'websocket client does not offer the sip subprotocol');
      }
      refuseUpgrade(socket, 400, 'Bad Request');
      return;
    }
    if (offered.length === 0) {
      const suppressed = peerWarnings.admit('ws-no-subprotocol');
      if (suppressed !== undefined) {
        this.log.warn({ transport: this.transport.id, from, suppressed }, 'websocket client offered no subprotocol; accepting without one');
      }
    }
    const endpoints = {
      remoteAddress: normalizeAddress(socket.remoteAddress ?? ''),
      remotePort: socket.remotePort ?? 0,
      localAddress: normalizeAddress(socket.localAddress ?? this.transport.localAddress),
      localPort: socket.localPort ?? this.transport.localPort,
    };
    if (!endpoints.remoteAddress) {
      socket.destroy();
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      if (this.closing) {
        ws.terminate();
        return;
      }
      const connection = new WebSocketConnection(
        this.transport.protocol,
        this.transport,
        true,
        ws,
        endpoints,
        this.ctx.flowEvents,
        this.log,
      );
      this.ctx.flowOpened(connection);
    });
  }

  close(): Promise<void> {
    if (!this.closing) {
      this.closing = closeServer(this.server).then(
        () =>
          new Promise<void>((resolve) => {
            this.wss.close(() => resolve());
          }),
      );
      this.sockets.destroyAll();
    }
    return this.closing;
  }
}
