/**
 * A SIP-over-WebSocket flow (RFC 7118), inbound (accepted by a ws/wss listener) or outbound
 * (ws client). Each text or binary frame carries exactly one SIP message (RFC 7118 §5), so
 * there is no stream framing here.
 *
 * Keepalives (drachtio-protocol §11.3): a frame holding only CRLF or CRLFCRLF is a ping and is
 * answered with a one-CRLF text frame. On flows we opened ourselves only CRLFCRLF is answered,
 * so that two engines that both answer single CRLFs cannot ping-pong forever. WebSocket ping
 * control frames are answered by the ws library. WS flows have no idle timeout.
 */
import { isUtf8 } from 'node:buffer';
import WebSocket from 'ws';
import type { Logger } from '../../logging/logger';
import type { Protocol, Transport } from './types';
import { FlowConnection, type FlowEndpoints, type FlowEvents } from './flow-connection';
import { TransportError } from './transport-error';
import { MAX_QUEUED_BYTES } from './stream-connection';
import { CR, CRLF, LF, isOnlyCrLf, isTokenByte } from './wire-bytes';
import { peerWarnings } from './log-throttle';

const CLOSE_GRACE_MS = 2_000;
/** RFC 6455 §7.4.1 status codes used when we close. */
const WS_NORMAL_CLOSURE = 1000;

function toBuffer(data: WebSocket.RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

export class WebSocketConnection extends FlowConnection {
  constructor(
    protocol: Protocol,
    transport: Transport,
    inbound: boolean,
    private readonly ws: WebSocket,
    endpoints: FlowEndpoints,
    events: FlowEvents,
    private readonly log: Logger,
  ) {
    super(protocol, transport, inbound, endpoints, events);
    ws.on('message', (data: WebSocket.RawData) => this.onFrame(toBuffer(data)));
    ws.on('error', (err: Error) => {
      this.log.debug({ connection: this.id, err: err.message }, 'websocket error');
    });
    ws.on('close', (code: number) => this.markClosed(`websocket closed (${code})`));
  }

  private onFrame(frame: Buffer): void {
    if (this.closed || frame.length === 0) return; // an empty frame carries nothing
    if (isOnlyCrLf(frame)) {
      const isPing = frame.length === 4 || (frame.length === 2 && this.inbound);
      if (isPing && frame[0] === CR && frame[1] === LF) this.sendKeepaliveAnswer();
      return;
    }
    let start = 0;
    while (frame[start] === CR || frame[start] === LF) start++;
    if (!isTokenByte(frame[start])) {
      this.log.debug({ connection: this.id, bytes: frame.length }, 'dropping websocket frame that is not SIP');
      this.events.dropped(this, 'not a SIP message');
      return;
    }
    this.events.message(this, start === 0 ? frame : frame.subarray(start));
  }

  private sendKeepaliveAnswer(): void {
    this.ws.send(CRLF, { binary: false }, (err) => {
      if (err) this.log.debug({ connection: this.id, err: err.message }, 'keepalive answer failed');
    });
  }

  write(data: Buffer): Promise<void> {
    if (this.closed || this.ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(new TransportError(`connection ${this.id} is closed`, 'ECLOSED'));
    }
    if (this.ws.bufferedAmount > MAX_QUEUED_BYTES) {
      const suppressed = peerWarnings.admit('not-draining');
      if (suppressed !== undefined) this.log.warn({ connection: this.id, queued: this.ws.bufferedAmount, suppressed }, 'peer not reading; dropping flow');
      this.destroy('send queue overflow');
      return Promise.reject(new TransportError(`connection ${this.id} is not draining`, 'EIO'));
    }
    // RFC 7118 §5: text or binary both allowed; text unless the bytes are not valid UTF-8
    // (a text frame with invalid UTF-8 makes the peer fail the connection, RFC 6455 §8.1).
    const binary = !isUtf8(data);
    return new Promise<void>((resolve, reject) => {
      this.ws.send(data, { binary }, (err) => {
        if (!err) resolve();
        else reject(new TransportError(`write on ${this.id} failed: ${err.message}`, this.closed ? 'ECLOSED' : 'EIO'));
      });
    });
  }

  close(reason: string): void {
    if (this.closed) return;
    this.markClosed(reason);
    try {
      this.ws.close(WS_NORMAL_CLOSURE);
    } catch {
      this.ws.terminate();
      return;
    }
    setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS).unref();
  }

  destroy(reason: string): void {
    this.markClosed(reason);
    this.ws.terminate();
  }
}
