/**
 * A TCP or TLS listening socket (RFC 3261 §18; TLS per RFC 3261 §26.2 with node:tls). Each
 * accepted socket becomes a StreamConnection once admitted (maxConnections) and, for TLS, once
 * the handshake completes. Raw sockets are tracked from accept on, so close() also ends
 * half-open handshakes that never made it into the connection table.
 */
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import type { Logger } from '../../logging/logger';
import type { ListenSpec, Transport } from './types';
import { bindErrorMessage, type LayerContext, type Listener } from './layer-context';
import { bindAddressFor, describeTransport } from './transport-descriptor';
import { StreamConnection } from './stream-connection';
import type { TlsCredentials } from './tls-credentials';
import { TransportError } from './transport-error';

const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

/** Bind a server (net, tls, http or https) and wait until it listens or fails. */
export function listenServer(server: Server, spec: ListenSpec, address: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => {
      server.close();
      reject(new TransportError(bindErrorMessage(spec.protocol, address, spec.port, err), 'EIO'));
    };
    server.once('error', onError);
    server.listen({ host: address, port: spec.port, exclusive: true }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** Tracks accepted raw sockets until they close, for a prompt and complete shutdown. */
export class SocketTracker {
  private readonly sockets = new Set<Socket>();

  track(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  destroyAll(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }
}

/** Close a listening server, resolving even when it was never listening. */
export function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
  });
}

export class StreamListener implements Listener {
  private readonly sockets = new SocketTracker();
  private closing: Promise<void> | undefined;

  private constructor(
    readonly transport: Transport,
    private readonly server: Server,
    private readonly ctx: LayerContext,
    private readonly log: Logger,
    /** Key and certificate of a tls listener; also presented when connecting out. */
    readonly credentials: TlsCredentials | undefined,
  ) {
    server.on('error', (err: NodeJS.ErrnoException) => {
      log.error({ transport: transport.id, err: err.code ?? err.message }, 'listener error');
    });
  }

  static async open(spec: ListenSpec, ctx: LayerContext, log: Logger, credentials?: TlsCredentials): Promise<StreamListener> {
    const address = bindAddressFor(spec.host);
    const isTls = spec.protocol === 'tls';
    if (isTls && !credentials) throw new TransportError('tls listener needs key and certificate', 'EIO');
    const server: Server = isTls
      ? createTlsServer({ key: credentials?.key, cert: credentials?.cert, handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS })
      : createTcpServer();
    await listenServer(server, spec, address);
    const bound = server.address();
    if (!bound || typeof bound === 'string') throw new TransportError(`cannot read bound address of ${spec.protocol}`, 'EIO');
    const transport = describeTransport(spec, bound.address, bound.port);
    const listener = new StreamListener(transport, server, ctx, log, isTls ? credentials : undefined);
    listener.attach(isTls);
    log.info({ transport: transport.id, advertised: transport.advertisedHost }, 'listening');
    return listener;
  }

  private attach(isTls: boolean): void {
    // 'connection' fires with the raw TCP socket for both net and tls servers.
    this.server.on('connection', (raw: Socket) => {
      raw.on('error', (err: NodeJS.ErrnoException) => {
        this.log.debug({ transport: this.transport.id, err: err.code ?? err.message }, 'accepted socket error');
      });
      if (!this.ctx.admitInbound(this.transport.protocol, raw.remoteAddress ?? '', raw.remotePort ?? 0)) {
        raw.destroy();
        return;
      }
      this.sockets.track(raw);
      if (!isTls) this.adopt(raw);
    });
    if (isTls) {
      this.server.on('secureConnection', (socket: TLSSocket) => this.adopt(socket));
      this.server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
        this.log.debug({ transport: this.transport.id, from: socket.remoteAddress, err: err.code ?? err.message }, 'tls handshake failed');
      });
    }
  }

  private adopt(socket: Socket): void {
    if (this.closing || socket.destroyed || socket.remoteAddress === undefined) {
      socket.destroy();
      return;
    }
    const connection = new StreamConnection(
      this.transport.protocol,
      this.transport,
      true,
      socket,
      this.ctx.flowEvents,
      { maxMessageBytes: this.ctx.maxMessageBytes },
      this.log,
    );
    this.ctx.flowOpened(connection);
  }

  close(): Promise<void> {
    if (!this.closing) {
      this.closing = closeServer(this.server);
      this.sockets.destroyAll();
    }
    return this.closing;
  }
}
