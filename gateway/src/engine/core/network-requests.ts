/**
 * Requests arriving from the network (drachtio-protocol §10.1 pipeline, §10.2 in-dialog,
 * §10.3 CANCEL) up to the point where they are handed to an app.
 */
import { createLogger } from '../../logging/logger';
import * as wire from '../control/wire';
import type { Dialog } from '../dialog/dialog';
import { incomingRequestKey } from '../dialog/dialog';
import { getTag, parseNameAddr, parseVia, formatVia } from '../sip/headers';
import { SipRequest, splitHeaderValues } from '../sip/message';
import type { SipParseError } from '../sip/parser';
import { tryParseUri } from '../sip/uri';
import { validateRequest } from '../sip/validate';
import { InviteServerTransaction } from '../transaction/invite-server';
import { NonInviteServerTransaction } from '../transaction/non-invite-server';
import { serverKey, type ServerTransaction } from '../transaction/transaction-layer';
import type { Connection } from '../transport';
import type { Engine, InboundInfo } from './engine';
import type { IncomingRequest } from './pending';
import { buildResponse } from './responses';
import { InDialogRequests } from './in-dialog-requests';

const log = createLogger('sip-in');

/** Methods routed to apps as new requests (§10.1 step 7). */
const ROUTABLE = new Set(['INVITE', 'REGISTER', 'MESSAGE', 'OPTIONS', 'INFO', 'NOTIFY', 'SUBSCRIBE', 'PUBLISH']);

export class NetworkRequests {
  readonly inDialog: InDialogRequests;

  constructor(private readonly e: Engine) {
    this.inDialog = new InDialogRequests(e, this);
  }

  /** A message that did not parse: 400 (or the parser's status) for requests, drop responses. */
  onUnparseable(err: SipParseError, info: InboundInfo, data: Buffer): void {
    log.warn({ remote: `${info.remoteAddress}:${info.remotePort}`, reason: err.message, bytes: data.length }, 'unparseable SIP message');
    const partial = err.partial;
    if (!(partial instanceof SipRequest) || partial.method === 'ACK') return;
    if (!partial.getHeader('Via') || !partial.getHeader('Call-ID') || !partial.getHeader('CSeq')) return;
    const reason = `Bad Request - ${err.message}`.replace(/[\r\n]/g, ' ').slice(0, 120);
    this.e.sendStatelessResponse(buildResponse(partial, err.status ?? 400, err.status && err.status !== 400 ? undefined : reason), info);
  }

  handle(req: SipRequest, info: InboundInfo): void {
    this.stampVia(req, info);
    const rejection = validateRequest(req);
    if (rejection) {
      log.warn({ method: req.method, remote: `${info.remoteAddress}:${info.remotePort}`, reason: rejection.reason }, 'invalid request rejected');
      if (req.method !== 'ACK') this.e.sendStatelessResponse(buildResponse(req, rejection.status, rejection.reason), info);
      return;
    }
    if (req.method === 'ACK') return this.onAck(req, info);
    if (req.method === 'CANCEL') return this.onCancel(req, info);
    const unsupported = this.unsupportedExtensions(req);
    if (unsupported.length && !req.getHeader('Route')) {
      // RFC 3261 §8.2.2.3: a Require we do not understand gets 420 with Unsupported.
      const res = buildResponse(req, 420, undefined, this.e.newTag());
      res.addHeader('Unsupported', unsupported.join(', '));
      this.e.sendStatelessResponse(res, info);
      return;
    }

    // Retransmission of a request we hold a server transaction for (§17.2.3).
    const existing = this.e.txns.findServer(serverKey(req));
    if (existing) {
      existing.receiveRetransmission();
      return;
    }
    if (this.e.proxy.handleRequest(req, info)) return;

    if (getTag(req.getHeader('To') ?? '')) {
      const dialog = this.e.dialogs.findByKey(incomingRequestKey(req));
      if (dialog) return this.inDialog.handle(req, info, dialog);
      if (req.method === 'INVITE' || req.method === 'BYE' || req.method === 'UPDATE' || req.method === 'PRACK' || req.method === 'REFER') {
        this.e.sendStatelessResponse(buildResponse(req, 481), info);
        return;
      }
    }
    this.newRequest(req, info);
  }

  /**
   * RFC 3261 §18.2.1 and RFC 3581: record where the request came from in the top Via. The
   * engine always adds rport (forced rport) so responses return to the packet source.
   */
  private stampVia(req: SipRequest, info: InboundInfo): void {
    const line = req.headers.find((h) => h.name.toLowerCase() === 'via' || h.name.toLowerCase() === 'v');
    if (!line) return;
    const values = splitHeaderValues(line.value);
    try {
      const via = parseVia(values[0]);
      via.params.set('received', info.remoteAddress);
      via.params.set('rport', String(info.remotePort));
      values[0] = formatVia(via);
      line.value = values.join(', ');
    } catch {
      /* validateRequest rejects it */
    }
  }

  /** Out-of-dialog request (§10.1 steps 3, 6, 7). */
  private newRequest(req: SipRequest, info: InboundInfo): void {
    const cfg = this.e.config;
    if (this.isSpam(req)) {
      // Through a server transaction, as drachtio-server does (nta_incoming_treply): the 603 gets
      // a To tag (RFC 3261 §8.2.6.2), is retransmitted over UDP until the ACK, absorbs the ACK.
      if (req.method !== 'ACK') this.createServerTransaction(req, info).respond(buildResponse(req, 603, undefined, this.e.newTag()));
      log.info({ callId: req.callId }, 'request from spammer declined');
      return;
    }
    if (req.method === 'REGISTER') {
      const rejection = this.checkRegister(req);
      if (rejection) {
        this.e.sendStatelessResponse(buildResponse(req, rejection[0], rejection[1]), info);
        return;
      }
    }
    if (req.method === 'BYE' || req.method === 'UPDATE' || req.method === 'PRACK') {
      this.e.sendStatelessResponse(buildResponse(req, 481), info);
      return;
    }
    const method = req.method.toLowerCase();
    const txn = this.createServerTransaction(req, info);
    if (req.method === 'INVITE') {
      // §10.1: 100 Trying at once, before the app sees the INVITE (§17.2.1 "within 200 ms").
      txn.respond(buildResponse(req, 100));
      if (cfg.alwaysSend180) txn.respond(buildResponse(req, 180, undefined, this.e.newTag()));
    }
    if (req.method === 'OPTIONS' && cfg.userAgentOptionsAutoRespond && req.getHeader('User-Agent') === cfg.userAgentOptionsAutoRespond) {
      txn.respond(buildResponse(req, 200, undefined, this.e.newTag()));
      return;
    }
    const app = this.e.control.registry.pick(method);
    if (!app) {
      if (!ROUTABLE.has(req.method)) {
        txn.respond(buildResponse(req, 501));
        return;
      }
      log.warn({ method: req.method, callId: req.callId }, 'no app connected for this method: 503');
      if (req.method === 'INVITE') this.e.cdrs.emit('cdr:attempt', 'network', undefined, req);
      const res = buildResponse(req, 503, undefined, this.e.newTag());
      txn.respond(res);
      if (req.method === 'INVITE') this.e.cdrs.emit('cdr:stop', 'application', 'call-rejected', res);
      return;
    }
    const pending = this.track(req, info, txn, app);
    pending.timeout = setTimeout(() => this.forget(pending), this.e.config.pendingRequestTimeoutMs ?? 64_000);
    if (req.method === 'INVITE') this.e.cdrs.emit('cdr:attempt', 'network', undefined, req);
    this.deliver(pending, '', true);
  }

  /** Remember a request handed to an app under a new txnId. */
  track(req: SipRequest, info: InboundInfo, txn: ServerTransaction, app: IncomingRequest['app'], dialog?: Dialog): IncomingRequest {
    const supported = [...req.getHeaderValues('Supported'), ...req.getHeaderValues('Require')].map((s) => s.toLowerCase());
    const pending: IncomingRequest = {
      txnId: txn.txnId,
      req,
      txn,
      info,
      app,
      dialog,
      cancelled: false,
      supports100rel: supported.includes('100rel'),
      lastRSeq: 0,
    };
    this.e.incoming.set(txn.txnId, pending);
    txn.onTerminated(() => {
      if (this.e.incoming.get(txn.txnId) === pending && !pending.app) this.e.incoming.delete(txn.txnId);
    });
    return pending;
  }

  /** Hand a request to its app (§5.2 kinds 1 and 2). */
  deliver(pending: IncomingRequest, dialogId: string, withReceivedOn: boolean, txnId = pending.txnId, req = pending.req): void {
    const info = pending.info;
    const meta: wire.WireMeta = { source: 'network', bytes: info.bytes, protocol: info.protocol, address: info.remoteAddress, port: info.remotePort };
    const receivedOn = withReceivedOn ? { address: info.transport.localAddress, port: info.transport.localPort } : undefined;
    this.e.send(pending.app, wire.sipMessage(meta, txnId, dialogId, req.toString(), receivedOn));
  }

  /** §10.1: a pending request the app never answers is forgotten after 64 s. */
  private forget(pending: IncomingRequest): void {
    if (this.e.incoming.get(pending.txnId) !== pending) return;
    if (pending.txn.kind === 'ist' && (pending.txn as InviteServerTransaction).lastResponse?.status !== 100) return;
    log.warn({ method: pending.req.method, callId: pending.req.callId }, 'app never answered the request; forgetting it');
    this.e.incoming.delete(pending.txnId);
    pending.txn.destroy();
  }

  createServerTransaction(req: SipRequest, info: InboundInfo): ServerTransaction {
    const key = serverKey(req) ?? `${req.callId}|${req.method}`;
    const channel = this.e.responseChannel(info);
    const onError = (err: unknown) => log.info({ callId: req.callId, err: (err as Error).message }, 'response could not be sent');
    const txn =
      req.method === 'INVITE'
        ? new InviteServerTransaction(this.e.newTxnId(), key, req, channel, this.e.timers, { onTransportError: onError })
        : new NonInviteServerTransaction(this.e.newTxnId(), key, req, channel, this.e.timers, onError);
    this.e.txns.addServer(txn);
    return txn;
  }

  /** ACK (§17.2.1 non-2xx, §13.3.1.4 2xx, §16 proxied). */
  private onAck(req: SipRequest, info: InboundInfo): void {
    const txn = this.e.txns.findServer(serverKey(req));
    if (txn instanceof InviteServerTransaction && txn.state !== 'accepted' && txn.receiveAck()) return;
    if (this.e.proxy.handleRequest(req, info)) return;
    const dialog = this.e.dialogs.findByKey(incomingRequestKey(req));
    if (dialog) return this.inDialog.onAck(req, info, dialog);
    log.debug({ callId: req.callId }, 'ACK matches nothing; discarded');
  }

  /** CANCEL (RFC 3261 §9.2, drachtio-protocol §10.1 quick cancel, §10.2, §10.3). */
  private onCancel(req: SipRequest, info: InboundInfo): void {
    const own = this.e.txns.findServer(serverKey(req));
    if (own) return own.receiveRetransmission();
    if (this.e.proxy.handleCancel(req, info)) return;
    const invite = this.e.txns.findServer(serverKey(req, 'INVITE'));
    const cancelTxn = this.createServerTransaction(req, info);
    if (invite instanceof InviteServerTransaction && invite.state === 'accepted') {
      const dialog = invite.dialogId ? this.e.dialogs.get(invite.dialogId) : undefined;
      return this.inDialog.cancelAfter200(req, cancelTxn, dialog);
    }
    const pending = invite ? this.e.incoming.get(invite.txnId) : undefined;
    if (!(invite instanceof InviteServerTransaction) || !pending || invite.state !== 'proceeding') {
      // §9.2: no matching transaction -> 481; a final was already sent -> 200, no effect.
      // §8.2.6.2: either way the response carries a To tag, the final's one if there was one.
      const finalTag = invite instanceof InviteServerTransaction ? getTag(invite.finalResponse?.getHeader('To') ?? '') : undefined;
      cancelTxn.respond(buildResponse(req, invite ? 200 : 481, undefined, finalTag ?? this.e.newTag()));
      return;
    }
    // §9.2: the 200 to the CANCEL and the 487 carry the same To tag (§8.2.6.2: there is one).
    pending.localTag ??= this.e.newTag();
    cancelTxn.respond(buildResponse(req, 200, undefined, pending.localTag));
    const res487 = buildResponse(pending.req, 487, undefined, pending.localTag);
    invite.respond(res487);
    pending.cancelled = true;
    pending.reliable?.retransmit.stop();
    if (pending.timeout) clearTimeout(pending.timeout);
    this.e.incoming.delete(pending.txnId);
    this.e.cdrs.emit('cdr:stop', 'network', 'call-canceled', req);
    const dialog = pending.dialog;
    if (dialog && dialog.state === 'early') this.e.dialogs.remove(dialog);
    const meta: wire.WireMeta = { source: 'network', bytes: info.bytes, protocol: info.protocol, address: info.remoteAddress, port: info.remotePort };
    this.e.send(pending.app, wire.sipMessage(meta, pending.txnId, dialog?.id ?? '', req.toString()));
  }

  private isSpam(req: SipRequest): boolean {
    const s = this.e.config.spammers;
    if (!s) return false;
    const ua = req.getHeader('User-Agent') ?? '';
    const userOf = (h: string) => {
      try {
        return tryParseUri(parseNameAddr(req.getHeader(h) ?? '').uri)?.user ?? '';
      } catch {
        return '';
      }
    };
    return (
      (s.userAgent ?? []).some((x) => ua.includes(x)) ||
      (s.toUser ?? []).some((x) => userOf('To').includes(x)) ||
      (s.fromUser ?? []).some((x) => userOf('From').includes(x))
    );
  }

  private unsupportedExtensions(req: SipRequest): string[] {
    const known = this.e.supportedExtensions;
    return req.getHeaderValues('Require').map((v) => v.trim()).filter((v) => v && !known.has(v.toLowerCase()));
  }

  /** §10.1 step 6. */
  private checkRegister(req: SipRequest): [number, string] | undefined {
    const uri = tryParseUri(req.uri);
    if (this.e.config.rejectRegisterWithNoRealm && uri && /^[\d.]+$|^\[/.test(uri.host)) return [403, 'Forbidden - no realm in Request-URI'];
    const expires = req.getHeader('Expires');
    for (const c of req.getHeaderValues('Contact')) {
      if (c.trim() === '*') {
        if (expires === undefined || Number(expires) !== 0) return [400, 'Bad Request - wildcard Contact requires Expires: 0'];
        continue;
      }
      try {
        const na = parseNameAddr(c);
        if (!/^[a-z][a-z0-9+.-]*:/i.test(na.uri)) return [400, 'Bad Request - Contact without scheme'];
      } catch {
        return [400, 'Bad Request - malformed Contact'];
      }
    }
    return undefined;
  }

  /** A flow closed: requests that arrived on it can never be answered (§18.2.2), drop them. */
  onConnectionClosed(c: Connection): void {
    this.e.registrations.dropConnection(c);
    for (const pending of [...this.e.incoming.values()]) {
      if (pending.info.connection !== c) continue;
      if (pending.timeout) clearTimeout(pending.timeout);
      pending.reliable?.retransmit.stop();
      this.e.incoming.delete(pending.txnId);
      pending.txn.destroy();
      if (pending.dialog?.state === 'early') this.e.dialogs.remove(pending.dialog);
      log.info({ method: pending.req.method, callId: pending.req.callId }, 'connection closed before the request was answered');
    }
  }
}
