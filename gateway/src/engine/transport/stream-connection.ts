/**
 * A TCP or TLS flow (RFC 3261 §18.3 framing via SipStreamFramer), inbound or outbound.
 *
 * - TCP_NODELAY on (SIP messages are whole units; Nagle only adds latency) and SO_KEEPALIVE on,
 *   so dead peers are eventually noticed even without RFC 5626 keepalives.
 * - A CRLFCRLF ping is answered with one CRLF (RFC 5626 §3.5.1 / §4.4.1).
 * - Outbound flows close after `idleTimeoutMs` without traffic in either direction; inbound
 *   flows have no idle timeout (the client owns their lifetime, RFC 5626 §4.4).
 * - A peer that stops reading cannot make us buffer without bound (MAX_QUEUED_BYTES).
 */
import type { Socket } from 'node:net';
import type { Logger } from '../../logging/logger';
import type { Protocol, Transport } from './types';
import { FlowConnection, type FlowEvents } from './flow-connection';
import { SipStreamFramer, type StreamFramerSink } from './stream-framer';
import { TransportError } from './transport-error';
import { CRLF } from './wire-bytes';
import { peerWarnings } from './log-throttle';

/** Queued-but-unsent bytes above which the peer is considered stuck and the flow is dropped. */
export const MAX_QUEUED_BYTES = 8 * 1024 * 1024;
const TCP_KEEPALIVE_DELAY_MS = 30_000;
/** How long a graceful close may take before the socket is destroyed. */
const CLOSE_GRACE_MS = 2_000;

export interface StreamConnectionOptions {
  maxMessageBytes: number;
  /** 0 or undefined: no idle timeout. */
  idleTimeoutMs?: number;
}

export class StreamConnection extends FlowConnection implements StreamFramerSink {
  private readonly framer: SipStreamFramer;

  constructor(
    protocol: Protocol,
    transport: Transport,
    inbound: boolean,
    private readonly socket: Socket,
    events: FlowEvents,
    options: StreamConnectionOptions,
    private readonly log: Logger,
  ) {
    super(
      protocol,
      transport,
      inbound,
      {
        remoteAddress: socket.remoteAddress ?? '',
        remotePort: socket.remotePort ?? 0,
        localAddress: socket.localAddress ?? transport.localAddress,
        localPort: socket.localPort ?? transport.localPort,
      },
      events,
    );
    this.framer = new SipStreamFramer(options.maxMessageBytes, this);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, TCP_KEEPALIVE_DELAY_MS);
    if (options.idleTimeoutMs && options.idleTimeoutMs > 0) {
      socket.setTimeout(options.idleTimeoutMs);
      socket.on('timeout', () => this.close('idle timeout'));
    }
    socket.on('data', (chunk: Buffer) => this.framer.push(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.log.debug({ connection: this.id, err: err.code ?? err.message }, 'socket error');
    });
    socket.on('close', () => {
      this.framer.stop();
      this.markClosed('socket closed');
    });
  }

  /** Bytes held by the framer waiting for the rest of a message. */
  get bufferedInboundBytes(): number {
    return this.framer.bufferedBytes;
  }

  onFrame(message: Buffer): void {
    this.events.message(this, message);
  }

  onPing(): void {
    if (this.closed) return;
    this.socket.write(CRLF); // errors surface on the socket's 'error' handler
  }

  onFramingError(reason: string): void {
    const suppressed = peerWarnings.admit('framing');
    if (suppressed !== undefined) this.log.warn({ connection: this.id, reason, suppressed }, 'closing stream: cannot frame SIP');
    this.destroy(`framing error: ${reason}`);
  }

  write(data: Buffer): Promise<void> {
    if (this.closed) return Promise.reject(new TransportError(`connection ${this.id} is closed`, 'ECLOSED'));
    if (this.socket.writableLength > MAX_QUEUED_BYTES) {
      const suppressed = peerWarnings.admit('not-draining');
      if (suppressed !== undefined) this.log.warn({ connection: this.id, queued: this.socket.writableLength, suppressed }, 'peer not reading; dropping flow');
      this.destroy('send queue overflow');
      return Promise.reject(new TransportError(`connection ${this.id} is not draining`, 'EIO'));
    }
    return new Promise<void>((resolve, reject) => {
      this.socket.write(data, (err) => {
        if (!err) resolve();
        else reject(new TransportError(`write on ${this.id} failed: ${err.message}`, this.closed ? 'ECLOSED' : 'EIO'));
      });
    });
  }

  close(reason: string): void {
    if (this.closed) return;
    this.framer.stop();
    this.markClosed(reason);
    this.socket.end();
    setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  destroy(reason: string): void {
    this.framer.stop();
    this.markClosed(reason);
    this.socket.destroy();
  }
}
