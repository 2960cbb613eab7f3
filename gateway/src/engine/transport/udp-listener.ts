/**
 * One UDP socket (RFC 3261 §18: each datagram carries exactly one message).
 *
 * - Datagrams made only of CR/LF are keepalives (RFC 5626 §3.5.1 style, as UAs send them over
 *   UDP too) and are ignored.
 * - Datagrams above maxMessageBytes, or not starting like a SIP message (STUN, junk), are dropped.
 * - SO_REUSEADDR is off so a second server on the same port fails loudly instead of sharing.
 * - A socket bound to '::' is dual-stack and can reach IPv4 peers through mapped addresses.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { Logger } from '../../logging/logger';
import type { ListenSpec, Transport } from './types';
import { bindErrorMessage, type LayerContext, type Listener } from './layer-context';
import { describeTransport, bindAddressFor } from './transport-descriptor';
import { familyOf, normalizeAddress, toMappedIPv6 } from './ip-address';
import { TransportError } from './transport-error';
import { isOnlyCrLf, isTokenByte } from './wire-bytes';
import { peerWarnings } from './log-throttle';

/** Largest UDP payload over IPv4 (65535 - 20 IP - 8 UDP). */
export const MAX_UDP_PAYLOAD = 65507;
/** drachtio sets 4 MB socket buffers so bursts at high call rates are not lost. */
const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;

export class UdpListener implements Listener {
  private closing: Promise<void> | undefined;

  private constructor(
    readonly transport: Transport,
    private readonly socket: Socket,
    private readonly ctx: LayerContext,
    private readonly log: Logger,
  ) {
    socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => this.onDatagram(msg, rinfo));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.log.error({ transport: transport.id, err: err.code ?? err.message }, 'udp socket error');
    });
  }

  static async open(spec: ListenSpec, ctx: LayerContext, log: Logger): Promise<UdpListener> {
    const address = bindAddressFor(spec.host);
    // 4 MiB receive buffer (the kernel caps it at net.core.rmem_max): bursts and event-loop stalls
    // otherwise overflow the ~208 KiB default and drop requests.
    const socket = createSocket({ type: familyOf(address) === 6 ? 'udp6' : 'udp4', reuseAddr: false, recvBufferSize: 4 * 1024 * 1024 });
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        socket.close();
        reject(new TransportError(bindErrorMessage('udp', address, spec.port, err), 'EIO'));
      };
      socket.once('error', onError);
      socket.bind({ address, port: spec.port, exclusive: true }, () => {
        socket.off('error', onError);
        resolve();
      });
    });
    for (const set of [socket.setRecvBufferSize, socket.setSendBufferSize]) {
      try {
        set.call(socket, SOCKET_BUFFER_BYTES);
      } catch {
        // The kernel may cap it (net.core.rmem_max); the default still works.
      }
    }
    const bound = socket.address();
    const transport = describeTransport(spec, bound.address, bound.port);
    log.info({ transport: transport.id, advertised: transport.advertisedHost }, 'listening');
    return new UdpListener(transport, socket, ctx, log);
  }

  private onDatagram(msg: Buffer, rinfo: RemoteInfo): void {
    if (msg.length > this.ctx.maxMessageBytes) {
      const suppressed = peerWarnings.admit('oversized-datagram');
      if (suppressed !== undefined) {
        this.log.warn({ transport: this.transport.id, from: rinfo.address, bytes: msg.length, suppressed }, 'dropping oversized datagram');
      }
      this.ctx.dropped();
      return;
    }
    if (isOnlyCrLf(msg)) return; // keepalive
    if (!isTokenByte(msg[0])) {
      this.log.debug({ transport: this.transport.id, from: rinfo.address, bytes: msg.length }, 'dropping non-SIP datagram');
      this.ctx.dropped();
      return;
    }
    this.ctx.datagram(this.transport, msg, normalizeAddress(rinfo.address), rinfo.port);
  }

  /** Can this socket send to an address of that family? A '::' socket reaches IPv4 too. */
  canReach(family: 4 | 6): boolean {
    if (this.transport.family === family) return true;
    return family === 4 && this.transport.localAddress === '::';
  }

  send(data: Buffer, address: string, port: number): Promise<void> {
    if (this.closing) return Promise.reject(new TransportError(`${this.transport.id} is closed`, 'ECLOSED'));
    const to = this.transport.family === 6 && familyOf(address) === 4 ? toMappedIPv6(address) : address;
    return new Promise<void>((resolve, reject) => {
      this.socket.send(data, port, to, (err) => {
        if (!err) resolve();
        else reject(new TransportError(`udp send to ${address}:${port} failed: ${err.message}`, 'EIO'));
      });
    });
  }

  close(): Promise<void> {
    if (!this.closing) {
      this.closing = new Promise<void>((resolve) => {
        try {
          this.socket.close(() => resolve());
        } catch {
          resolve(); // already closed
        }
      });
    }
    return this.closing;
  }
}
