/**
 * Helpers for the proxy integration tests: a tiny SIP endpoint on a real UDP socket that can act
 * as a scripted UAS or drive a UAC dialog by hand, reading real SIP off the wire. Plain Node, no
 * test-framework imports, so it type-checks with the rest of the source.
 */
import { createSocket, type Socket } from 'node:dgram';
import { connect, type Socket as NetSocket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { parseMessage } from '../sip/parser';
import { getTag, parseNameAddr, withTag } from '../sip/headers';
import { SipRequest, SipResponse, type SipMessage } from '../sip/message';

export type AnyMsg = SipRequest | SipResponse;

export interface Received {
  msg: AnyMsg;
  address: string;
  port: number;
}

const rand = () => randomBytes(5).toString('hex');

/** Everything an endpoint received, and waiting for what it has not received yet. */
class MessageLog {
  readonly received: Received[] = [];
  private waiters: Array<{ pred: (m: AnyMsg) => boolean; resolve: (m: AnyMsg) => void }> = [];
  onMessage?: (r: Received) => void;

  constructor(readonly name: string) {}

  protected deliver(data: Buffer, address: string, port: number): void {
    let msg: AnyMsg;
    try {
      msg = parseMessage(data) as AnyMsg;
    } catch {
      return;
    }
    const r = { msg, address, port };
    this.received.push(r);
    this.onMessage?.(r);
    for (const w of [...this.waiters]) {
      if (w.pred(msg)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(msg);
      }
    }
  }

  /** The first message (already received or still to come) that satisfies pred. */
  waitFor<T extends AnyMsg = AnyMsg>(pred: (m: AnyMsg) => boolean, what: string, timeoutMs = 5000): Promise<T> {
    const have = this.received.find((r) => pred(r.msg));
    if (have) return Promise.resolve(have.msg as T);
    return new Promise<T>((resolve, reject) => {
      const w = {
        pred,
        resolve: (m: AnyMsg) => {
          clearTimeout(timer);
          resolve(m as T);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`${this.name}: timed out waiting for ${what}; got ${this.received.map((r) => r.msg.startLine).join(' / ')}`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  requests(method: string): SipRequest[] {
    return this.received.map((r) => r.msg).filter((m): m is SipRequest => m.isRequest && (m as SipRequest).method === method);
  }

  responses(status?: number): SipResponse[] {
    return this.received.map((r) => r.msg).filter((m): m is SipResponse => !m.isRequest && (status === undefined || (m as SipResponse).status === status));
  }
}

/** A SIP endpoint on a UDP socket bound to 127.0.0.1. */
export class SipPeer extends MessageLog {
  private constructor(
    private readonly sock: Socket,
    readonly port: number,
    name: string,
  ) {
    super(name);
    sock.on('message', (data, rinfo) => this.deliver(data, rinfo.address, rinfo.port));
  }

  static open(name: string): Promise<SipPeer> {
    const sock = createSocket('udp4');
    return new Promise((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(0, '127.0.0.1', () => resolve(new SipPeer(sock, sock.address().port, name)));
    });
  }

  get uri(): string {
    return `sip:${this.name}@127.0.0.1:${this.port}`;
  }

  send(msg: SipMessage, port: number, address = '127.0.0.1'): void {
    this.sock.send(msg.toBuffer(), port, address);
  }

  close(): void {
    this.sock.close();
  }
}

/** A SIP client on one TCP connection (RFC 3261 §18.3 framing by Content-Length). */
export class TcpSipClient extends MessageLog {
  private buf = Buffer.alloc(0);

  private constructor(
    private readonly sock: NetSocket,
    name: string,
  ) {
    super(name);
    sock.on('data', (chunk: Buffer) => {
      this.buf = Buffer.concat([this.buf, chunk]);
      for (;;) {
        const end = this.buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = this.buf.subarray(0, end).toString('latin1');
        const len = Number(/\r\n(?:content-length|l)\s*:\s*(\d+)/i.exec(head)?.[1] ?? 0);
        if (this.buf.length < end + 4 + len) return;
        const msg = this.buf.subarray(0, end + 4 + len);
        this.buf = this.buf.subarray(end + 4 + len);
        this.deliver(Buffer.from(msg), sock.remoteAddress ?? '', sock.remotePort ?? 0);
      }
    });
  }

  static open(name: string, port: number): Promise<TcpSipClient> {
    return new Promise((resolve, reject) => {
      const sock = connect({ host: '127.0.0.1', port }, () => resolve(new TcpSipClient(sock, name)));
      sock.once('error', reject);
    });
  }

  get localPort(): number {
    return this.sock.localPort ?? 0;
  }

  send(msg: SipMessage): void {
    this.sock.write(msg.toBuffer());
  }

  close(): void {
    this.sock.destroy();
  }
}

export const isRequest = (method: string) => (m: AnyMsg) => m.isRequest && (m as SipRequest).method === method;
export const isResponse = (status: number, cseqMethod?: string) => (m: AnyMsg) =>
  !m.isRequest && (m as SipResponse).status === status && (!cseqMethod || (m.getHeader('CSeq') ?? '').endsWith(cseqMethod));

/** RFC 3261 §8.2.6 response to a request, as a UAS builds it. */
export function responseTo(req: SipRequest, status: number, toTag: string | undefined, extra: Record<string, string> = {}, contact?: string): SipResponse {
  const res = new SipResponse(status, status === 200 ? 'OK' : 'Whatever');
  for (const v of req.getHeaderLines('Via')) res.addHeader('Via', v);
  res.addHeader('From', req.getHeader('From') ?? '');
  const to = req.getHeader('To') ?? '';
  res.addHeader('To', status > 100 && toTag && !getTag(to) ? withTag(to, toTag) : to);
  res.addHeader('Call-ID', req.callId);
  res.addHeader('CSeq', req.getHeader('CSeq') ?? '');
  if (req.method === 'INVITE' && status > 100 && status < 300) {
    for (const rr of req.getHeaderLines('Record-Route')) res.addHeader('Record-Route', rr);
    if (contact) res.addHeader('Contact', contact);
  }
  for (const [k, v] of Object.entries(extra)) res.addHeader(k, v);
  return res;
}

export interface UasStep {
  status: number;
  delayMs?: number;
  headers?: Record<string, string>;
}

/**
 * Script the peer as a UAS: each new INVITE gets the steps' responses; CANCEL gets 200 and the
 * INVITE 487; BYE, INFO, PRACK and UPDATE get 200. INVITE retransmissions are ignored.
 */
export function actAsUas(peer: SipPeer, steps: UasStep[]): void {
  const seen = new Map<string, { finalSent: boolean; timers: NodeJS.Timeout[]; req: SipRequest; tag: string; to: Received }>();
  const contact = `<sip:${peer.name}@127.0.0.1:${peer.port}>`;
  peer.onMessage = (r) => {
    if (!r.msg.isRequest) return;
    const req = r.msg as SipRequest;
    const branch = /branch=([^;,\s]+)/.exec(req.getHeader('Via') ?? '')?.[1] ?? '';
    const reply = (res: SipResponse) => peer.send(res, r.port, r.address);
    if (req.method === 'INVITE') {
      if (seen.has(branch)) return;
      const st = { finalSent: false, timers: [] as NodeJS.Timeout[], req, tag: rand(), to: r };
      seen.set(branch, st);
      for (const step of steps) {
        st.timers.push(
          setTimeout(() => {
            if (st.finalSent) return;
            if (step.status >= 200) st.finalSent = true;
            reply(responseTo(req, step.status, st.tag, step.headers, contact));
          }, step.delayMs ?? 0),
        );
      }
    } else if (req.method === 'CANCEL') {
      reply(responseTo(req, 200, rand()));
      const st = seen.get(branch);
      if (st && !st.finalSent) {
        st.finalSent = true;
        st.timers.forEach(clearTimeout);
        reply(responseTo(st.req, 487, st.tag));
      }
    } else if (req.method !== 'ACK') {
      reply(responseTo(req, 200, rand()));
    }
  };
}

/** A hand-driven UAC toward the engine. */
export class Uac {
  readonly callId = `${rand()}@proxy-test`;
  readonly fromTag = rand();
  private cseq = 1;
  invite?: SipRequest;

  constructor(
    readonly peer: SipPeer,
    readonly enginePort: number,
  ) {}

  private base(method: string, uri: string, cseq: number, to: string): SipRequest {
    const req = new SipRequest(method, uri);
    req.addHeader('Via', `SIP/2.0/UDP 127.0.0.1:${this.peer.port};branch=z9hG4bK${rand()};rport`);
    req.addHeader('Max-Forwards', '70');
    req.addHeader('From', `<sip:alice@127.0.0.1:${this.peer.port}>;tag=${this.fromTag}`);
    req.addHeader('To', to);
    req.addHeader('Call-ID', this.callId);
    req.addHeader('CSeq', `${cseq} ${method}`);
    return req;
  }

  sendInvite(opts: { user?: string; maxForwards?: number; headers?: Record<string, string> } = {}): SipRequest {
    const uri = `sip:${opts.user ?? 'bob'}@127.0.0.1:${this.enginePort}`;
    const req = this.base('INVITE', uri, this.cseq, `<${uri}>`);
    if (opts.maxForwards !== undefined) req.setHeader('Max-Forwards', String(opts.maxForwards));
    req.addHeader('Contact', `<sip:alice@127.0.0.1:${this.peer.port}>`);
    for (const [k, v] of Object.entries(opts.headers ?? {})) req.addHeader(k, v);
    req.addHeader('Content-Type', 'application/sdp');
    req.body = Buffer.from('v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n');
    this.invite = req;
    this.peer.send(req, this.enginePort);
    return req;
  }

  sendCancel(): SipRequest {
    const inv = this.invite!;
    const c = new SipRequest('CANCEL', inv.uri);
    c.addHeader('Via', inv.getHeader('Via')!);
    c.addHeader('Max-Forwards', '70');
    c.addHeader('From', inv.getHeader('From')!);
    c.addHeader('To', inv.getHeader('To')!);
    c.addHeader('Call-ID', this.callId);
    c.addHeader('CSeq', `${this.cseq} CANCEL`);
    this.peer.send(c, this.enginePort);
    return c;
  }

  /** An in-dialog request following the route set of a 1xx/2xx (RFC 3261 §12.2.1.1). */
  sendInDialog(method: string, res: SipResponse, cseq?: number): SipRequest {
    const target = parseNameAddr(res.getHeaderValues('Contact')[0] ?? `<${this.invite!.uri}>`).uri;
    const seq = method === 'ACK' ? this.cseq : cseq ?? ++this.cseq;
    const req = this.base(method, target, seq, res.getHeader('To')!);
    for (const rr of [...res.getHeaderValues('Record-Route')].reverse()) req.addHeader('Route', rr);
    this.peer.send(req, this.enginePort);
    return req;
  }
}
