/**
 * Starts the engine in-process on loopback with ephemeral ports, plus helpers to connect a real
 * drachtio-srf app and to talk raw SIP over UDP, TCP and WebSocket.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import WebSocket from 'ws';
import Srf from 'drachtio-srf';
import { Engine, type EngineConfig } from '../../gateway/src/engine/core/engine';
import type { Protocol } from '../../gateway/src/engine/transport';

export const SECRET = 'test-secret';

export interface RunningEngine {
  engine: Engine;
  port(protocol: Protocol): number;
  stop(): Promise<void>;
}

export async function startEngine(overrides: Partial<EngineConfig> = {}): Promise<RunningEngine> {
  const engine = new Engine({
    contacts: [
      { protocol: 'udp', host: '127.0.0.1', port: 0 },
      { protocol: 'tcp', host: '127.0.0.1', port: 0 },
      { protocol: 'ws', host: '127.0.0.1', port: 0 },
    ],
    adminAddress: '127.0.0.1',
    adminPort: 0,
    secret: SECRET,
    timers: { t1: 50, t2: 400, t4: 500 },
    ...overrides,
  });
  await engine.start();
  return {
    engine,
    port: (p) => {
      const t = engine.transports.find((x) => x.protocol === p);
      if (!t) throw new Error(`no ${p} transport`);
      return t.localPort;
    },
    stop: () => engine.stop(),
  };
}

export function connectApp(engine: Engine, tags: string[] = []): Promise<Srf> {
  const srf = tags.length ? new Srf(tags) : new Srf();
  return new Promise((resolve, reject) => {
    srf.once('connect', (err: Error | undefined) => (err ? reject(err) : resolve(srf)));
    srf.on('error', () => {});
    srf.connect({ host: '127.0.0.1', port: engine.adminPort, secret: SECRET });
  });
}

/** A raw SIP peer: sends text, collects every message it receives. */
export interface RawPeer {
  readonly port: number;
  readonly received: string[];
  send(text: string | Buffer): void;
  next(predicate?: (m: string) => boolean, timeoutMs?: number): Promise<string>;
  close(): void;
}

function collector(): { received: string[]; push(m: string): void; next: RawPeer['next'] } {
  const received: string[] = [];
  let waiters: Array<{ pred: (m: string) => boolean; resolve: (m: string) => void }> = [];
  let cursor = 0;
  return {
    received,
    push(m: string) {
      received.push(m);
      for (const w of [...waiters]) {
        if (w.pred(m)) {
          waiters = waiters.filter((x) => x !== w);
          w.resolve(m);
        }
      }
    },
    next(pred = () => true, timeoutMs = 5000) {
      for (; cursor < received.length; cursor++) {
        if (pred(received[cursor])) return Promise.resolve(received[cursor++]);
      }
      return new Promise((resolve, reject) => {
        const w = { pred, resolve: (m: string) => { clearTimeout(t); cursor = received.length; resolve(m); } };
        const t = setTimeout(() => {
          waiters = waiters.filter((x) => x !== w);
          reject(new Error(`no matching SIP message within ${timeoutMs} ms; got:\n${received.join('\n---\n')}`));
        }, timeoutMs);
        waiters.push(w);
      });
    },
  };
}

export async function udpPeer(targetPort: number): Promise<RawPeer> {
  const sock = dgram.createSocket('udp4');
  const c = collector();
  sock.on('message', (m) => c.push(m.toString('latin1')));
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  return {
    port: sock.address().port,
    received: c.received,
    send: (text) => sock.send(typeof text === 'string' ? Buffer.from(text, 'latin1') : text, targetPort, '127.0.0.1'),
    next: c.next,
    close: () => sock.close(),
  };
}

export async function tcpPeer(targetPort: number): Promise<RawPeer & { socket: net.Socket }> {
  const socket = net.connect(targetPort, '127.0.0.1');
  await new Promise<void>((r, j) => socket.once('connect', () => r()).once('error', j));
  const c = collector();
  let buf = '';
  socket.on('data', (d) => {
    buf += d.toString('latin1');
    for (;;) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const cl = /\r\n(?:content-length|l)\s*:\s*(\d+)/i.exec(buf.slice(0, end));
      const total = end + 4 + (cl ? Number(cl[1]) : 0);
      if (buf.length < total) return;
      c.push(buf.slice(0, total));
      buf = buf.slice(total);
    }
  });
  socket.on('error', () => {});
  return {
    socket,
    port: socket.localPort ?? 0,
    received: c.received,
    send: (text) => socket.write(typeof text === 'string' ? Buffer.from(text, 'latin1') : text),
    next: c.next,
    close: () => socket.destroy(),
  };
}

export async function wsPeer(targetPort: number): Promise<RawPeer & { ws: WebSocket }> {
  const ws = new WebSocket(`ws://127.0.0.1:${targetPort}`, 'sip');
  await new Promise<void>((r, j) => ws.once('open', () => r()).once('error', j));
  const c = collector();
  ws.on('message', (d) => c.push(Buffer.isBuffer(d) ? d.toString('latin1') : String(d)));
  ws.on('error', () => {});
  return {
    ws,
    port: 0,
    received: c.received,
    send: (text) => ws.send(typeof text === 'string' ? text : text.toString('latin1')),
    next: c.next,
    close: () => ws.close(),
  };
}

let seq = 0;
/** A minimal valid request from a raw peer. */
export function request(method: string, opts: { port: number; proto?: string; from?: string; target?: string; callId?: string; extra?: string; body?: string; cseq?: number; toTag?: string }): string {
  const n = ++seq;
  const proto = opts.proto ?? 'UDP';
  const body = opts.body ?? '';
  const toTag = opts.toTag ? `;tag=${opts.toTag}` : '';
  return (
    `${method} ${opts.target ?? 'sip:service@127.0.0.1'} SIP/2.0\r\n` +
    `Via: SIP/2.0/${proto} 127.0.0.1:${opts.port};branch=z9hG4bK-test-${n}-${Date.now()};rport\r\n` +
    `Max-Forwards: 70\r\n` +
    `From: <sip:${opts.from ?? 'alice'}@127.0.0.1>;tag=from-${n}\r\n` +
    `To: <sip:service@127.0.0.1>${toTag}\r\n` +
    `Call-ID: ${opts.callId ?? `call-${n}-${Date.now()}`}\r\n` +
    `CSeq: ${opts.cseq ?? 1} ${method}\r\n` +
    `Contact: <sip:alice@127.0.0.1:${opts.port}>\r\n` +
    (opts.extra ?? '') +
    (body ? 'Content-Type: application/sdp\r\n' : '') +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

export const statusOf = (m: string): number => Number(/^SIP\/2\.0 (\d{3})/.exec(m)?.[1] ?? 0);

export async function waitFor(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// ---- helpers for raw peers building SIP by hand -------------------------------------------------

/** A small SDP body. */
export const SDP = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n';

/** Every value of a header (case-insensitive name, one entry per header line). */
export function headers(msg: string, name: string): string[] {
  const head = msg.split('\r\n\r\n')[0];
  const re = new RegExp(`^${name}\\s*:\\s*(.*)$`, 'gim');
  return [...head.matchAll(re)].map((m) => m[1].trim());
}

/** First value of a header, or undefined. */
export function header(msg: string, name: string): string | undefined {
  return headers(msg, name)[0];
}

/** branch parameter of the top Via. */
export function branchOf(msg: string): string {
  return /;branch=([^;,\s]+)/i.exec(header(msg, 'Via') ?? '')?.[1] ?? '';
}

export const methodOf = (m: string): string => /^([A-Z]+) sip/.exec(m)?.[1] ?? '';
export const cseqMethodOf = (m: string): string => /\s(\S+)\s*$/.exec(header(m, 'CSeq') ?? '')?.[1] ?? '';

/** A response a raw peer sends to a request it received (RFC 3261 §8.2.6). */
export function respondTo(reqText: string, status: number, reason: string, opts: { toTag?: string; extra?: string; body?: string; contact?: string } = {}): string {
  const body = opts.body ?? '';
  let to = header(reqText, 'To') ?? '';
  if (opts.toTag && !/;tag=/i.test(to)) to += `;tag=${opts.toTag}`;
  return (
    `SIP/2.0 ${status} ${reason}\r\n` +
    headers(reqText, 'Via').map((v) => `Via: ${v}\r\n`).join('') +
    `From: ${header(reqText, 'From')}\r\n` +
    `To: ${to}\r\n` +
    `Call-ID: ${header(reqText, 'Call-ID')}\r\n` +
    `CSeq: ${header(reqText, 'CSeq')}\r\n` +
    (opts.contact ? `Contact: ${opts.contact}\r\n` : '') +
    (opts.extra ?? '') +
    (body ? 'Content-Type: application/sdp\r\n' : '') +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

/**
 * ACK from a raw UAC. For a non-2xx final it is part of the INVITE transaction (§17.1.1.3:
 * the INVITE's top Via); for a 2xx it is a new transaction (§13.2.2.4: new branch).
 */
export function ackTo(invite: string, finalResponse: string): string {
  const non2xx = statusOf(finalResponse) >= 300;
  const via = non2xx ? header(invite, 'Via')! : header(invite, 'Via')!.replace(/;branch=[^;,\s]+/, `;branch=z9hG4bK-ack-${++seq}-${Date.now()}`);
  const ruri = /^INVITE (\S+)/.exec(invite)![1];
  const cseq = parseInt(header(invite, 'CSeq')!, 10);
  return (
    `ACK ${ruri} SIP/2.0\r\nVia: ${via}\r\nMax-Forwards: 70\r\nFrom: ${header(invite, 'From')}\r\nTo: ${header(finalResponse, 'To')}\r\n` +
    `Call-ID: ${header(invite, 'Call-ID')}\r\nCSeq: ${cseq} ACK\r\nContent-Length: 0\r\n\r\n`
  );
}

/** CANCEL from a raw UAC for an INVITE it sent (RFC 3261 §9.1). */
export function cancelOf(invite: string): string {
  const ruri = /^INVITE (\S+)/.exec(invite)![1];
  const cseq = parseInt(header(invite, 'CSeq')!, 10);
  return (
    `CANCEL ${ruri} SIP/2.0\r\nVia: ${header(invite, 'Via')}\r\nMax-Forwards: 70\r\nFrom: ${header(invite, 'From')}\r\nTo: ${header(invite, 'To')}\r\n` +
    `Call-ID: ${header(invite, 'Call-ID')}\r\nCSeq: ${cseq} CANCEL\r\nContent-Length: 0\r\n\r\n`
  );
}

/** The reason a dialog was destroyed: srf emits destroy(msg, reason), which its typings omit. */
export function destroyReason(dlg: Srf.Dialog): Promise<string> {
  return new Promise((resolve) => (dlg as unknown as NodeJS.EventEmitter).once('destroy', (_msg: unknown, reason: string) => resolve(reason)));
}

/** Wait until a connected app has registered routes for all these verbs. */
export function routed(engine: Engine, ...verbs: string[]): Promise<void> {
  return waitFor(() => engine.control.registry.all().some((a) => verbs.every((v) => a.routes.has(v.toLowerCase()))), 5000, `routes ${verbs.join(',')}`);
}
