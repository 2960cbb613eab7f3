/**
 * Receives rtpengine's DTMF log (--dtmf-log-dest=HOST:PORT): one JSON datagram per digit, e.g.
 *   {"callid":"…","source_tag":"B","tags":["A","B"],"type":"DTMF","timestamp":1795396270,
 *    "source_ip":"127.0.0.1","event":7,"duration":200,"volume":10}
 * and emits it per call, so the app can turn RFC 4733 from a phone into SIP INFO toward a browser
 * (calls/dtmf-to-info.ts).
 *
 * rtpengine (10.5, checked in test/calls/dtmf-to-info.test.ts and test/e2e/dtmf.test.ts) reports a
 * digit when its end packet arrives, from plain RTP and from SRTP (browser) legs alike; "duration"
 * is in ms. It also reports the digits it injected itself (play DTMF) with the from-tag used there,
 * i.e. as digits of the leg they were played for. subscribeLeg() delivers only events whose
 * source_tag is the given leg's own tag. rtpengine sees telephone-event only when audio runs
 * through its codec handler: keep `inject DTMF` (the default policy) or transcoding on.
 * The socket takes datagrams from anyone who can reach it: bind it where only rtpengine can.
 */
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import { isIPv6 } from 'node:net';
import { createLogger } from '../../logging/logger';

const log = createLogger('dtmf-events');

export interface DtmfEvent {
  callId: string;
  /** rtpengine tag of the participant the digit came from. */
  sourceTag: string;
  tags: string[];
  /** '0'-'9', '*', '#', 'A'-'D'. */
  digit: string;
  /** RFC 4733 event code. */
  event: number;
  durationMs: number;
  volume: number;
  /** Seconds since the epoch, as rtpengine stamped it. */
  timestamp: number;
  sourceIp?: string;
}

const EVENT_DIGITS = '0123456789*#ABCD';

export function digitForEvent(event: number): string | undefined {
  return Number.isInteger(event) && event >= 0 && event < EVENT_DIGITS.length ? EVENT_DIGITS[event] : undefined;
}

/** Parses one datagram; undefined when it is not a DTMF event rtpengine would send. */
export function parseDtmfDatagram(message: Buffer | string): DtmfEvent | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(message.toString());
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const record = raw as Record<string, unknown>;
  if (record.type !== undefined && record.type !== 'DTMF') return undefined;
  const event = Number(record.event);
  const digit = digitForEvent(event);
  if (typeof record.callid !== 'string' || typeof record.source_tag !== 'string' || digit === undefined) return undefined;
  return {
    callId: record.callid,
    sourceTag: record.source_tag,
    tags: Array.isArray(record.tags) ? record.tags.map(String) : [],
    digit,
    event,
    durationMs: Number(record.duration ?? 0),
    volume: Number(record.volume ?? 0),
    timestamp: Number(record.timestamp ?? 0),
    sourceIp: typeof record.source_ip === 'string' ? record.source_ip : undefined,
  };
}

export interface DtmfEventListenerOptions {
  host: string;
  /** 0 picks a free port; read `address` after start(). */
  port: number;
}

/** Emits 'dtmf' (every event) and `dtmf:<call-id>` (that call's events). */
export class DtmfEventListener extends EventEmitter {
  private socket: dgram.Socket | undefined;
  private bound: { host: string; port: number } | undefined;
  received = 0;
  ignored = 0;

  constructor(private readonly options: DtmfEventListenerOptions) {
    super();
    this.setMaxListeners(0); // one subscription per active call
  }

  /** Where rtpengine must send (the --dtmf-log-dest value). */
  get address(): { host: string; port: number } {
    if (!this.bound) throw new Error('DTMF event listener is not started');
    return this.bound;
  }

  start(): Promise<{ host: string; port: number }> {
    if (this.bound) return Promise.resolve(this.bound);
    return new Promise((resolve, reject) => {
      const socket = dgram.createSocket(isIPv6(this.options.host) ? 'udp6' : 'udp4');
      socket.once('error', reject);
      socket.on('message', (message, remote) => this.onDatagram(message, `${remote.address}:${remote.port}`));
      socket.bind(this.options.port, this.options.host, () => {
        socket.removeListener('error', reject);
        socket.on('error', (error) => log.warn({ err: error.message }, 'DTMF event socket error'));
        this.socket = socket;
        this.bound = { host: this.options.host, port: socket.address().port };
        log.info(this.bound, 'listening for rtpengine DTMF events');
        resolve(this.bound);
      });
    });
  }

  stop(): void {
    this.socket?.close();
    this.socket = undefined;
    this.bound = undefined;
    this.removeAllListeners();
  }

  /** Events of one call; returns the unsubscribe function. */
  subscribe(callId: string, handler: (event: DtmfEvent) => void): () => void {
    const name = `dtmf:${callId}`;
    this.on(name, handler);
    return () => this.removeListener(name, handler);
  }

  /** Events that leg `sourceTag` of call `callId` sent (not digits rtpengine injected for the other side). */
  subscribeLeg(callId: string, sourceTag: string, handler: (event: DtmfEvent) => void): () => void {
    return this.subscribe(callId, (event) => {
      if (event.sourceTag === sourceTag) handler(event);
    });
  }

  private onDatagram(message: Buffer, from: string): void {
    const event = parseDtmfDatagram(message);
    if (!event) {
      this.ignored += 1;
      // Warn about the first few (a misconfigured sender shows up in the log), then only debug.
      const level = this.ignored <= 10 ? 'warn' : 'debug';
      log[level]({ from, ignored: this.ignored, text: message.toString().slice(0, 200) }, 'ignored datagram on the DTMF event port (not an rtpengine DTMF event)');
      return;
    }
    this.received += 1;
    log.debug({ callId: event.callId, tag: event.sourceTag, digit: event.digit, durationMs: event.durationMs }, 'DTMF event');
    // A throwing handler must not take the socket's 'message' handler (and the process) down.
    try {
      this.emit('dtmf', event);
      this.emit(`dtmf:${event.callId}`, event);
    } catch (err) {
      log.warn({ callId: event.callId, err: (err as Error).message }, 'DTMF event handler failed');
    }
  }
}
