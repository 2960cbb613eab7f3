/**
 * Responses from the network to requests apps sent (drachtio-protocol §5.2 kind 5, §10.4):
 * UAC dialogs from 2xx and tagged provisionals, re-ACK of retransmitted 2xx, dialog removal
 * after BYE, locally generated 408/503.
 */
import { createLogger } from '../../logging/logger';
import * as wire from '../control/wire';
import { Dialog } from '../dialog/dialog';
import { getTag } from '../sip/headers';
import { SipRequest, type SipResponse } from '../sip/message';
import { validateResponse } from '../sip/validate';
import { clientKeyOfResponse } from '../transaction/transaction-layer';
import type { Engine, InboundInfo } from './engine';
import type { OutgoingRequest } from './pending';
import { buildResponse } from './responses';
import { MIN_SE, refresherOf, sessionExpiresOf, SessionTimer } from './session-timers';

const log = createLogger('sip-in');

export class NetworkResponses {
  /** Where the response being dispatched came from (set around the synchronous dispatch). */
  private current?: InboundInfo;

  constructor(private readonly e: Engine) {}

  handle(res: SipResponse, info: InboundInfo): void {
    const invalid = validateResponse(res);
    if (invalid) {
      log.warn({ remote: `${info.remoteAddress}:${info.remotePort}`, reason: invalid }, 'invalid response dropped');
      return;
    }
    const txn = this.e.txns.findClient(clientKeyOfResponse(res));
    if (!txn) {
      if (this.reAck(res)) return;
      if (this.e.proxy.handleResponse(res, info)) return;
      log.debug({ status: res.status, callId: res.callId }, 'response matches no transaction; discarded');
      return;
    }
    this.current = info;
    try {
      txn.receiveResponse(res);
    } finally {
      this.current = undefined;
    }
  }

  /** A 2xx retransmitted after the INVITE transaction ended: resend our ACK (§13.2.2.4). */
  private reAck(res: SipResponse): boolean {
    if (res.status < 200 || res.status >= 300 || !/\bINVITE\b/i.test(res.getHeader('CSeq') ?? '')) return false;
    const localTag = getTag(res.getHeader('From') ?? '');
    const remoteTag = getTag(res.getHeader('To') ?? '') ?? '';
    if (!localTag) return false;
    const dialog = this.e.dialogs.findByKey(`${res.callId}|${localTag}|${remoteTag}`);
    const seq = parseInt(res.getHeader('CSeq') ?? '', 10);
    if (dialog?.lastAck && dialog.lastAck.cseq === seq && dialog.lastAck.expires > Date.now()) {
      void this.e.dialogSender.flowFor(dialog, dialog.remoteTarget).then((f) =>
        this.e.requestChannel(f.protocol, f.address, f.port, f.transport, f.connection).send(dialog.lastAck!.ack),
      ).catch(() => {});
      return true;
    }
    return false;
  }

  onResponse(out: OutgoingRequest, res: SipResponse, retransmission: boolean): void {
    const method = out.req.method;
    const status = res.status;
    if (retransmission) {
      const d = out.dialog;
      const tag = getTag(res.getHeader('To') ?? '');
      if (d && out.initial && tag !== undefined && tag !== d.remoteTag) return this.rejectFork(out, res, tag);
      // RFC 6026 Accepted state: 2xx retransmissions are answered with the ACK we sent.
      if (d?.lastAck && d.lastAck.cseq === parseInt(res.getHeader('CSeq') ?? '', 10)) {
        this.e.requestChannel(out.flow.protocol, out.flow.address, out.flow.port, out.flow.transport, out.flow.connection).send(d.lastAck.ack).catch(() => {});
      }
      return;
    }
    let dialogId = out.dialogId;
    if (out.initial) this.uacDialogState(out, res);
    else if (out.dialog) this.inDialogResponse(out, res);
    if (out.initial && out.dialog) dialogId = out.dialog.id;
    if (method === 'INVITE' && out.initial) {
      if (status >= 200 && status < 300) this.e.cdrs.emit('cdr:start', 'network', 'uac', res);
      else if (status >= 300) this.e.cdrs.emit('cdr:stop', 'network', status === 487 ? 'call-canceled' : 'call-rejected', res);
    }
    if (status >= 200) this.e.outgoing.delete(out.txnId);
    const info = this.current;
    const meta: wire.WireMeta = {
      source: 'network',
      bytes: info?.bytes ?? Buffer.byteLength(res.toString()),
      protocol: info?.protocol ?? out.flow.protocol,
      address: info?.remoteAddress ?? out.flow.address,
      port: info?.remotePort ?? out.flow.port,
    };
    this.e.send(out.app, wire.sipMessage(meta, out.txnId, dialogId, res.toString()));
  }

  /**
   * A 2xx from a second fork after the first one formed the dialog (RFC 3261 §13.2.2.4): the
   * UAC must ACK it, and since the app keeps one dialog, the fork is hung up right away.
   */
  private rejectFork(out: OutgoingRequest, res: SipResponse, tag: string): void {
    const contact = res.getHeaderValues('Contact')[0];
    const target = contact ? (/<([^>]*)>/.exec(contact)?.[1] ?? contact.split(';')[0]).trim() : out.req.uri;
    const cseq = parseInt(res.getHeader('CSeq') ?? '0', 10);
    const f = out.flow;
    const channel = this.e.requestChannel(f.protocol, f.address, f.port, f.transport, f.connection);
    const build = (method: string, seq: number) => {
      const m = new SipRequest(method, target);
      m.addHeader('Via', this.e.dialogSender.via(f));
      for (const rr of res.getHeaderValues('Record-Route').reverse()) m.addHeader('Route', rr);
      m.addHeader('Max-Forwards', '70');
      m.addHeader('From', out.req.getHeader('From') ?? '');
      m.addHeader('To', res.getHeader('To') ?? '');
      m.addHeader('Call-ID', out.req.callId);
      m.addHeader('CSeq', `${seq} ${method}`);
      return m;
    };
    log.info({ callId: out.req.callId, tag }, 'second forked 2xx: ACK and BYE it');
    channel.send(build('ACK', cseq)).catch(() => {});
    const bye = build('BYE', cseq + 1);
    bye.addHeader('Reason', 'SIP ;cause=200 ;text="Call completed elsewhere"');
    this.e.dialogSender.sendAndForget(bye, f);
  }

  /** UAC dialog creation (§10.4): early on a tagged 1xx, confirmed on 2xx, removed on failure. */
  private uacDialogState(out: OutgoingRequest, res: SipResponse): void {
    const status = res.status;
    const remoteTag = getTag(res.getHeader('To') ?? '');
    if (status > 100 && status < 300 && remoteTag !== undefined) {
      let d = out.dialog;
      if (!d) {
        const f = out.flow;
        d = new Dialog(out.dialogId, 'uac', out.req.callId, out.localTag, remoteTag, out.req.getHeader('From') ?? '', res.getHeader('To') ?? '',
          parseInt(out.req.getHeader('CSeq') ?? '1', 10), { protocol: f.protocol, transport: f.transport, connection: f.connection, remoteAddress: f.address, remotePort: f.port }, out.req.method);
        d.app = out.app;
        d.cancelled = out.cancelled;
        // Until a Contact says otherwise the remote target is the Request-URI (a 1xx may lack one).
        d.remoteTarget = out.req.uri;
        d.localContact = out.req.getHeader('Contact') ?? '';
        d.inviteInProgress = { txnId: out.txnId, cseq: d.localCSeq };
        d.localSdp = out.req.body.length ? out.req.body : undefined;
        d.localContentType = out.req.getHeader('Content-Type');
        out.dialog = d;
        this.e.dialogs.add(d);
      } else if (d.remoteTag !== remoteTag && d.state === 'early') {
        const oldKey = d.key;
        d.remoteTag = remoteTag;
        d.remoteHeader = res.getHeader('To') ?? d.remoteHeader;
        this.e.dialogs.rekey(d, oldKey);
      }
      if (status >= 200 || d.state === 'early') {
        d.learnRouting(res, true);
        this.natRoute(d, res);
      }
      if (status >= 200) {
        d.remoteHeader = res.getHeader('To') ?? d.remoteHeader;
        d.state = 'confirmed';
        d.inviteInProgress = undefined;
        d.ackCSeq = parseInt(out.req.getHeader('CSeq') ?? '0', 10);
        if (out.req.method === 'INVITE') this.armSessionTimer(d, res);
      }
      return;
    }
    if (status >= 300 && out.dialog) {
      const d = out.dialog;
      if (d.state === 'early') this.e.dialogs.remove(d);
    }
    if (status >= 200 && status < 300 && remoteTag === undefined) {
      // A 2xx without To tag cannot form a dialog; srf's ACK then fails (§13, "no Contact 200").
      log.warn({ callId: res.callId }, '2xx without To tag: no dialog created');
    }
  }

  /** §10.11 UAC side: a Contact host that is not where the response came from. */
  private natRoute(d: Dialog, res: SipResponse): void {
    const info = this.current;
    if (!info || info.protocol !== 'udp' || d.routeSet.length || res.status < 200) return;
    const m = /^sips?:(?:[^@]*@)?(\[[^\]]+\]|[^:;>]+)/i.exec(d.remoteTarget);
    if (m && m[1].replace(/^\[|\]$/g, '') !== info.remoteAddress) d.natTarget = { address: info.remoteAddress, port: info.remotePort };
  }

  /** Session-Expires in a 200 to our INVITE: we refresh when refresher=uac or absent (§10.4). */
  private armSessionTimer(d: Dialog, res: SipResponse): void {
    const se = sessionExpiresOf(res);
    if (se === undefined) return;
    d.sessionTimer?.stop();
    const refresher = refresherOf(res);
    d.sessionTimer = new SessionTimer(this.e, d, Math.max(MIN_SE, se), refresher === undefined || refresher === 'uac');
  }

  private inDialogResponse(out: OutgoingRequest, res: SipResponse): void {
    const d = out.dialog!;
    const method = out.req.method;
    const status = res.status;
    if (status < 200) return;
    if (method === 'INVITE') {
      if (d.inviteInProgress?.txnId === out.txnId) d.inviteInProgress = undefined;
      if (status < 300) {
        d.updateTarget(res);
        d.ackCSeq = parseInt(out.req.getHeader('CSeq') ?? '0', 10);
        const se = sessionExpiresOf(res);
        if (se !== undefined) this.armSessionTimer(d, res);
      }
    }
    const keep = status === 401 || status === 407;
    if (method === 'BYE' && !keep) this.e.dialogs.remove(d);
    if (method === 'NOTIFY' && d.isSubscription && !keep && /^\s*terminated/i.test(out.req.getHeader('Subscription-State') ?? '') && !/^refer\b/i.test(out.req.getHeader('Event') ?? '')) {
      this.e.dialogs.remove(d);
    }
  }

  /** Timer B/F expiry (408), a transport failure (503) or a request cancelled before it could be sent (487), reported as a network response (§10.4). */
  onLocalFailure(out: OutgoingRequest, status: 408 | 487 | 503): void {
    if (!this.e.outgoing.has(out.txnId)) return;
    const res = buildResponse(out.req, status);
    this.onResponse(out, res, false);
  }
}
