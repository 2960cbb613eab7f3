/**
 * A raw SIP desk phone over UDP for B2BUA tests: one loopback socket for SIP (always talking to the
 * gateway's UDP port) plus an RtpPhone for media. It keeps one INVITE dialog at a time and behaves
 * like a well-mannered phone: 100 Trying to a new INVITE, ACK for every final response to its
 * INVITEs (retransmitted 2xx get the ACK again), 200 + 487 on CANCEL, 200 to BYE/INFO/OPTIONS, and
 * an RFC 3264 answer (mirrored direction) to re-INVITE/UPDATE offers. Retransmitted requests get the
 * stored response again and are not recorded twice.
 *
 * It implements the RawPeer shape, so the registrar fixture's digest REGISTER helpers work on it.
 */
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { RtpPhone, type PhoneSdpOptions } from '../media/rtp-phone';
import { audioDirection } from '../../gateway/src/app/media/sdp-policy';
import { branchOf, header, headers, methodOf, respondTo, statusOf, type RawPeer } from '../engine/engine-fixture';

export const isRequest = (method: string) => (m: string): boolean => methodOf(m) === method;
export const isResponse = (status: number, method = 'INVITE') => (m: string): boolean =>
  statusOf(m) === status && cseqMethod(m) === method;
export const cseqMethod = (m: string): string => /\s(\S+)\s*$/.exec(header(m, 'CSeq') ?? '')?.[1] ?? '';
export const bodyOf = (m: string): string => m.slice(m.indexOf('\r\n\r\n') + 4);
export const tagOf = (value: string | undefined): string | undefined => /;\s*tag=([^;>\s]+)/i.exec(value ?? '')?.[1];
const withoutTag = (value: string): string => value.replace(/;\s*tag=[^;>\s]+/i, '');
const uriOf = (value: string | undefined): string => (/<([^>]+)>/.exec(value ?? '')?.[1] ?? (value ?? '').split(';')[0]).trim();
const token = (): string => randomBytes(5).toString('hex');

/** RFC 3264 §6.1: the answer's direction for an offered one. */
export function mirrored(direction: string): PhoneSdpOptions['direction'] {
  return direction === 'sendonly' ? 'recvonly' : direction === 'recvonly' ? 'sendonly' : direction === 'inactive' ? 'inactive' : 'sendrecv';
}

export interface PhoneDialog {
  callId: string;
  localTag: string;
  remoteTag: string;
  /** From/To values without tags, as this side sends them. */
  localUri: string;
  remoteUri: string;
  remoteTarget: string;
  cseq: number;
  terminated: boolean;
}

export interface SendOptions {
  body?: string;
  contentType?: string;
  extra?: string;
}

export class SipPhone implements RawPeer {
  readonly received: string[] = [];
  private readonly consumed = new Set<number>();
  private waiters: Array<{ pred: (m: string) => boolean; resolve: (m: string) => void }> = [];
  /** Responses sent per request (branch + method), replayed for retransmissions. */
  private readonly answered = new Map<string, string>();
  private readonly seenResponses = new Set<string>();
  private readonly acks = new Map<string, string>();
  dialog: PhoneDialog | undefined;
  /** The INVITE this phone is answering (UAS) or sent (UAC), for CANCEL and ACK. */
  incoming: string | undefined;
  outgoing: string | undefined;
  private incomingFinal = false;
  /** Options for SDP answers to re-INVITE/UPDATE offers (direction is mirrored from the offer). */
  answerSdpOptions: PhoneSdpOptions = { payloadTypes: [0, 101] };
  /** Return true to take over an incoming request (the phone then sends nothing itself). */
  onRequest: ((req: string) => boolean) | undefined;

  private constructor(
    readonly name: string,
    private readonly socket: dgram.Socket,
    readonly gatewayPort: number,
    public rtp: RtpPhone,
  ) {
    socket.on('message', (m) => this.onMessage(m.toString('latin1')));
  }

  static async open(name: string, gatewayPort: number, port = 0): Promise<SipPhone> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, '127.0.0.1', () => resolve());
    });
    return new SipPhone(name, socket, gatewayPort, await RtpPhone.open(name));
  }

  get port(): number {
    return this.socket.address().port;
  }

  get contact(): string {
    return `<sip:${this.name}@127.0.0.1:${this.port}>`;
  }

  /** Forget every message and dialog and start over with a fresh RTP socket (between tests). */
  async reset(): Promise<void> {
    this.received.length = 0;
    this.consumed.clear();
    this.waiters = [];
    this.answered.clear();
    this.seenResponses.clear();
    this.acks.clear();
    this.dialog = this.incoming = this.outgoing = undefined;
    this.onRequest = undefined;
    this.answerSdpOptions = { payloadTypes: [0, 101] };
    this.rtp.close();
    this.rtp = await RtpPhone.open(this.name);
  }

  close(): void {
    this.rtp.close();
    this.socket.close();
  }

  send(text: string | Buffer): void {
    this.socket.send(typeof text === 'string' ? Buffer.from(text, 'latin1') : text, this.gatewayPort, '127.0.0.1');
  }

  /** The first message not yet taken that matches (waiting for it); it is then taken. */
  next(pred: (m: string) => boolean = () => true, timeoutMs = 8000): Promise<string> {
    const found = this.take(pred);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const waiter = {
        pred,
        resolve: (m: string) => {
          clearTimeout(timer);
          resolve(m);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`${this.name}: no matching SIP message within ${timeoutMs} ms; got:\n${this.received.map((m) => m.split('\r\n')[0]).join('\n')}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Messages received so far that match (taken or not). */
  all(pred: (m: string) => boolean): string[] {
    return this.received.filter(pred);
  }

  private take(pred: (m: string) => boolean): string | undefined {
    for (let i = 0; i < this.received.length; i++) {
      if (!this.consumed.has(i) && pred(this.received[i])) {
        this.consumed.add(i);
        return this.received[i];
      }
    }
    return undefined;
  }

  private record(m: string): void {
    const index = this.received.push(m) - 1;
    const waiter = this.waiters.find((w) => w.pred(m));
    if (waiter) {
      this.waiters = this.waiters.filter((w) => w !== waiter);
      this.consumed.add(index);
      waiter.resolve(m);
    }
  }

  private onMessage(m: string): void {
    if (m.startsWith('SIP/2.0 ')) this.onResponse(m);
    else if (/^[A-Z]+ /.test(m)) this.onRequestMessage(m);
  }

  private onResponse(m: string): void {
    const key = `${statusOf(m)}|${header(m, 'CSeq')}|${header(m, 'Call-ID')}|${tagOf(header(m, 'To'))}|${branchOf(m)}`;
    const status = statusOf(m);
    const isInvite = cseqMethod(m) === 'INVITE';
    if (this.seenResponses.has(key)) {
      const ack = this.acks.get(key);
      if (ack) this.send(ack); // retransmitted final response: our ACK got lost or was late
      return;
    }
    this.seenResponses.add(key);
    if (isInvite && status >= 200) {
      const invite = this.outgoing && header(this.outgoing, 'Call-ID') === header(m, 'Call-ID') && header(this.outgoing, 'CSeq') === header(m, 'CSeq') ? this.outgoing : undefined;
      if (status < 300 && invite && !this.dialog) {
        this.dialog = {
          callId: header(m, 'Call-ID')!,
          localTag: tagOf(header(m, 'From'))!,
          remoteTag: tagOf(header(m, 'To'))!,
          localUri: withoutTag(header(m, 'From')!),
          remoteUri: withoutTag(header(m, 'To')!),
          remoteTarget: uriOf(header(m, 'Contact')),
          cseq: parseInt(header(m, 'CSeq')!, 10),
          terminated: false,
        };
      }
      const ack = status >= 300 && invite ? this.nonSuccessAck(invite, m) : this.successAck(m);
      if (ack) {
        this.acks.set(key, ack);
        this.send(ack);
      }
    }
    if ((status === 183 || (status >= 200 && status < 300)) && isInvite && bodyOf(m).includes('m=audio')) this.rtp.useRemoteSdp(bodyOf(m));
    this.record(m);
  }

  /** §17.1.1.3: ACK for a non-2xx final, in the INVITE's transaction. */
  private nonSuccessAck(invite: string, res: string): string {
    const ruri = /^INVITE (\S+)/.exec(invite)![1];
    return (
      `ACK ${ruri} SIP/2.0\r\nVia: ${header(invite, 'Via')}\r\nMax-Forwards: 70\r\nFrom: ${header(invite, 'From')}\r\n` +
      `To: ${header(res, 'To')}\r\nCall-ID: ${header(invite, 'Call-ID')}\r\nCSeq: ${parseInt(header(invite, 'CSeq')!, 10)} ACK\r\nContent-Length: 0\r\n\r\n`
    );
  }

  /** §13.2.2.4: ACK for a 2xx (initial or re-INVITE), a new transaction in the dialog. */
  private successAck(res: string): string | undefined {
    const d = this.dialog;
    if (!d || d.callId !== header(res, 'Call-ID')) return undefined;
    return (
      `ACK ${d.remoteTarget} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${this.port};branch=z9hG4bK-${token()};rport\r\nMax-Forwards: 70\r\n` +
      `From: ${d.localUri};tag=${d.localTag}\r\nTo: ${d.remoteUri};tag=${d.remoteTag}\r\nCall-ID: ${d.callId}\r\n` +
      `CSeq: ${parseInt(header(res, 'CSeq')!, 10)} ACK\r\nContent-Length: 0\r\n\r\n`
    );
  }

  private onRequestMessage(m: string): void {
    const method = methodOf(m) || /^([A-Z]+) /.exec(m)![1];
    const key = `${branchOf(m)}|${method}`;
    const previous = this.answered.get(key);
    if (previous !== undefined) {
      if (previous) this.send(previous);
      return;
    }
    this.answered.set(key, '');
    if (method === 'ACK') return this.record(m);
    if (this.onRequest?.(m)) return this.record(m);
    const toTag = tagOf(header(m, 'To'));
    if (method === 'CANCEL') {
      this.reply(m, 200, 'OK');
      if (this.incoming && branchOf(this.incoming) === branchOf(m) && !this.incomingFinal) this.respond(487, 'Request Terminated');
    } else if (method === 'INVITE' && !toTag) {
      this.incoming = m;
      this.incomingFinal = false;
      this.uasTag = token();
      this.reply(m, 100, 'Trying');
    } else if (method === 'INVITE' || method === 'UPDATE') {
      const offer = bodyOf(m);
      if (offer.includes('m=audio')) {
        this.rtp.useRemoteSdp(offer);
        const sdp = this.rtp.sdp({ ...this.answerSdpOptions, direction: mirrored(audioDirection(offer)) });
        this.reply(m, 200, 'OK', { body: sdp, contact: this.contact });
      } else {
        this.reply(m, 200, 'OK', { body: this.rtp.sdp(this.answerSdpOptions), contact: this.contact });
      }
    } else {
      if (method === 'BYE' && this.dialog && header(m, 'Call-ID') === this.dialog.callId) this.dialog.terminated = true;
      this.reply(m, method === 'BYE' && !this.dialog ? 481 : 200, method === 'BYE' && !this.dialog ? 'Call/Transaction Does Not Exist' : 'OK');
    }
    this.record(m);
  }

  /** Responds to any received request (the stored reply answers its retransmissions). */
  reply(req: string, status: number, reason: string, opts: SendOptions & { contact?: string; toTag?: string } = {}): void {
    const method = /^([A-Z]+) /.exec(req)![1];
    let text = respondTo(req, status, reason, { toTag: status > 100 ? (opts.toTag ?? this.tagFor(req)) : undefined, extra: opts.extra, contact: opts.contact, body: opts.body });
    if (opts.body && opts.contentType) text = text.replace('Content-Type: application/sdp', `Content-Type: ${opts.contentType}`);
    this.answered.set(`${branchOf(req)}|${method}`, text);
    this.send(text);
  }

  private tagFor(req: string): string {
    return tagOf(header(req, 'To')) ?? (this.incoming && header(this.incoming, 'Call-ID') === header(req, 'Call-ID') ? this.uasTag : token());
  }

  private uasTag = token();

  // ---- as the called phone (UAS) ----------------------------------------------------------------

  /** Waits for a new INVITE (100 Trying already sent). */
  async awaitInvite(timeoutMs = 8000): Promise<string> {
    return this.next((m) => methodOf(m) === 'INVITE' && !tagOf(header(m, 'To')), timeoutMs);
  }

  /** Responds to the pending INVITE; a 2xx establishes the dialog (the ACK arrives on its own). */
  respond(status: number, reason: string, opts: { sdp?: string; extra?: string } = {}): void {
    const invite = this.incoming;
    if (!invite) throw new Error(`${this.name}: no INVITE to respond to`);
    if (status >= 200) this.incomingFinal = true;
    if (status >= 200 && status < 300) {
      this.dialog = {
        callId: header(invite, 'Call-ID')!,
        localTag: this.uasTag,
        remoteTag: tagOf(header(invite, 'From'))!,
        localUri: withoutTag(header(invite, 'To')!),
        remoteUri: withoutTag(header(invite, 'From')!),
        remoteTarget: uriOf(header(invite, 'Contact')),
        cseq: 100,
        terminated: false,
      };
    }
    if (opts.sdp) this.rtp.useRemoteSdp(bodyOf(invite));
    this.reply(invite, status, reason, { body: opts.sdp, extra: opts.extra, contact: this.contact, toTag: this.uasTag });
  }

  /** Answers the pending INVITE with 200 and this phone's SDP (sendrecv, same codecs as offered). */
  answer(sdpOptions: PhoneSdpOptions = this.answerSdpOptions): string {
    const sdp = this.rtp.sdp(sdpOptions);
    this.respond(200, 'OK', { sdp });
    return sdp;
  }

  // ---- as the calling phone (UAC) ---------------------------------------------------------------

  /** Sends an INVITE to the gateway for `user` (Request-URI sip:user@127.0.0.1:gatewayPort). */
  invite(user: string, opts: SendOptions & { sdp?: string | null; callId?: string; cseq?: number; fromTag?: string } = {}): string {
    const ruri = `sip:${user}@127.0.0.1:${this.gatewayPort}`;
    const body = opts.sdp === null ? '' : (opts.sdp ?? this.rtp.sdp(this.answerSdpOptions));
    const text =
      `INVITE ${ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${this.port};branch=z9hG4bK-${token()};rport\r\nMax-Forwards: 70\r\n` +
      `From: "${this.name}" <sip:${this.name}@127.0.0.1>;tag=${opts.fromTag ?? token()}\r\nTo: <sip:${user}@127.0.0.1>\r\n` +
      `Call-ID: ${opts.callId ?? `${this.name}-${token()}`}\r\nCSeq: ${opts.cseq ?? 1} INVITE\r\nContact: ${this.contact}\r\n` +
      (opts.extra ?? '') +
      (body ? 'Content-Type: application/sdp\r\n' : '') +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    this.outgoing = text;
    this.dialog = undefined;
    this.send(text);
    return text;
  }

  /** The final response to an INVITE this phone sent (ACKed automatically). */
  final(invite: string = this.outgoing!, timeoutMs = 10_000): Promise<string> {
    return this.next(
      (m) => statusOf(m) >= 200 && header(m, 'Call-ID') === header(invite, 'Call-ID') && header(m, 'CSeq') === header(invite, 'CSeq'),
      timeoutMs,
    );
  }

  cancel(invite: string = this.outgoing!): void {
    const ruri = /^INVITE (\S+)/.exec(invite)![1];
    this.send(
      `CANCEL ${ruri} SIP/2.0\r\nVia: ${header(invite, 'Via')}\r\nMax-Forwards: 70\r\nFrom: ${header(invite, 'From')}\r\n` +
        `To: ${header(invite, 'To')}\r\nCall-ID: ${header(invite, 'Call-ID')}\r\nCSeq: ${parseInt(header(invite, 'CSeq')!, 10)} CANCEL\r\nContent-Length: 0\r\n\r\n`,
    );
  }

  // ---- in the dialog ----------------------------------------------------------------------------

  /** Sends a request in the current dialog; returns its text. */
  request(method: string, opts: SendOptions = {}): string {
    const d = this.dialog;
    if (!d) throw new Error(`${this.name}: no dialog`);
    d.cseq += 1;
    const body = opts.body ?? '';
    const text =
      `${method} ${d.remoteTarget} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${this.port};branch=z9hG4bK-${token()};rport\r\nMax-Forwards: 70\r\n` +
      `From: ${d.localUri};tag=${d.localTag}\r\nTo: ${d.remoteUri};tag=${d.remoteTag}\r\nCall-ID: ${d.callId}\r\nCSeq: ${d.cseq} ${method}\r\n` +
      (method === 'INVITE' || method === 'UPDATE' ? `Contact: ${this.contact}\r\n` : '') +
      (opts.extra ?? '') +
      (body ? `Content-Type: ${opts.contentType ?? 'application/sdp'}\r\n` : '') +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    if (method === 'INVITE') this.outgoing = text;
    if (method === 'BYE') d.terminated = true;
    this.send(text);
    return text;
  }

  /** Sends a request in the dialog and waits for its final response (2xx to re-INVITE ACKed). */
  async transact(method: string, opts: SendOptions = {}, timeoutMs = 10_000): Promise<string> {
    const req = this.request(method, opts);
    const res = await this.next((m) => statusOf(m) >= 200 && header(m, 'Call-ID') === header(req, 'Call-ID') && header(m, 'CSeq') === header(req, 'CSeq'), timeoutMs);
    if (method !== 'INVITE' && method !== 'BYE' && statusOf(res) < 300 && bodyOf(res).includes('m=audio')) this.rtp.useRemoteSdp(bodyOf(res));
    return res;
  }

  /** Every Via of a message (for tests that inspect them). */
  static vias(m: string): string[] {
    return headers(m, 'Via');
  }
}
