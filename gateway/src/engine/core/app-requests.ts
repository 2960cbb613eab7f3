/**
 * Requests apps send (drachtio-protocol §4.3 new requests, §4.4 in-dialog requests, §4.5
 * CANCEL): building them with the stack's defaults, choosing where they go, starting the
 * client transaction and echoing what went on the wire.
 */
import { createLogger } from '../../logging/logger';
import type { AppCommand } from '../control/app-connection';
import * as wire from '../control/wire';
import { dialogIdOf, type Dialog } from '../dialog/dialog';
import { getTag, withTag } from '../sip/headers';
import { SipRequest } from '../sip/message';
import { tryParseUri, type SipUri } from '../sip/uri';
import { buildCancel, InviteClientTransaction } from '../transaction/invite-client';
import { NonInviteClientTransaction } from '../transaction/non-invite-client';
import { clientKeyFor, newBranch } from '../transaction/transaction-layer';
import { appHeader, parseRequestLine, splitAppMessage, type AppMessage } from './app-message';
import { DestinationError, isLocalHost, portOf, resolveUri, selectTransport } from './destinations';
import type { Engine } from './engine';
import { applyAppHeaders, replaceLocalhost, toNameAddr } from './header-policy';
import type { Flow, OutgoingRequest } from './pending';
import type { TransportError } from '../transport';

const log = createLogger('sip-out');

/** Headers the builders below own for new requests. */
const NEW_REQUEST_SKIP = new Set(['from', 'to', 'call-id', 'cseq', 'contact']);
/** Inside a dialog From/To/Call-ID/CSeq come from the dialog (§4.4). */
const IN_DIALOG_SKIP = new Set(['from', 'to', 'call-id', 'cseq', 'contact']);
/** Methods whose Request-URI may be served by a cached WebSocket registration (§4.3, §11.4). */
const CACHE_METHODS = new Set(['INVITE', 'OPTIONS', 'NOTIFY', 'MESSAGE']);
/** Headers never copied from an app CANCEL (§4.5). */
const CANCEL_UNSAFE = new Set(['from', 'to', 'contact', 'p-asserted-identity', 'call-id', 'cseq', 'max-forwards']);

export class AppRequests {
  constructor(private readonly e: Engine) {}

  /** §4.3: a new request outside any dialog. */
  outOfDialog(cmd: AppCommand, routeUri: string | undefined): void {
    void this.sendNew(cmd, routeUri).catch((err: Error) => {
      log.info({ err: err.message }, 'request from app not sent');
      cmd.app.send(wire.nok(cmd.msgId, err.message));
    });
  }

  private async sendNew(cmd: AppCommand, routeUri: string | undefined): Promise<void> {
    const appMsg = splitAppMessage(cmd.sip);
    let method: string;
    let uriText: string;
    try {
      ({ method, uri: uriText } = parseRequestLine(appMsg.startLine));
    } catch {
      throw new Error(`invalid request-uri: ${appMsg.startLine}`);
    }
    if (!/^[a-z][a-z0-9+.-]*:/i.test(uriText)) uriText = `sip:${uriText.includes('@') ? uriText : `${uriText}@localhost`}`;
    const uri = tryParseUri(uriText);
    if (!uri || (uri.user !== undefined && /[\s<>"]/.test(uri.user))) throw new Error(`invalid request-uri: ${appMsg.startLine}`);
    const nextHop = routeUri ? tryParseUri(routeUri) : uri;
    if (!nextHop) throw new Error(`invalid request-uri: ${routeUri}`);

    const flow = await this.flowForNew(method, uri, nextHop);
    const hostport = this.e.hostport(flow.transport, flow.address);
    const req = new SipRequest(method, uri.toString());
    const branch = newBranch();
    req.addHeader('Via', this.e.dialogSender.via(flow, branch));
    req.addHeader('Max-Forwards', '70');
    // From: the app's (localhost rewritten) or our address; always tagged (§4.3).
    const contactUri = this.e.contactFor(flow.transport, flow.address);
    let from = appHeader(appMsg, 'from');
    from = from ? toNameAddr(replaceLocalhost(from, hostport)) : contactUri;
    let localTag = getTag(from);
    if (!localTag) {
      localTag = this.e.newTag();
      from = withTag(from, localTag);
    }
    req.addHeader('From', from);
    const to = appHeader(appMsg, 'to');
    req.addHeader('To', to ? toNameAddr(replaceLocalhost(to, hostport)) : `<${uri.toString()}>`);
    const callId = appHeader(appMsg, 'call-id') ?? `${this.e.newTag()}${this.e.newTag()}`;
    req.addHeader('Call-ID', callId);
    const appSeq = parseInt(appHeader(appMsg, 'cseq') ?? '', 10);
    req.addHeader('CSeq', `${Number.isFinite(appSeq) ? appSeq : this.e.newCSeq()} ${method}`);
    const appContacts = appMsg.headers.filter((h) => h.name.toLowerCase() === 'contact' || h.name.toLowerCase() === 'm');
    for (const c of appContacts) req.addHeader('Contact', toNameAddr(replaceLocalhost(c.value, hostport)));
    if (!appContacts.length && (method === 'INVITE' || method === 'SUBSCRIBE')) req.addHeader('Contact', contactUri);
    applyAppHeaders(req, appMsg.headers, { hostport, skip: NEW_REQUEST_SKIP });
    this.attachBody(req, appMsg);

    const udpFallback = this.switchToTcpIfLarge(req, flow, uri, branch);
    const initial = method === 'INVITE' || method === 'SUBSCRIBE';
    const out = this.startClient(cmd, req, flow, branch, { initial, localTag, dialogId: initial ? dialogIdOf(callId, localTag) : '', udpFallback });
    if (method === 'INVITE') this.e.cdrs.emit('cdr:attempt', 'application', undefined, req);
    void out;
  }

  /** Transport and destination for a new request (§4.3 "Validation and transport selection"). */
  private async flowForNew(method: string, uri: SipUri, nextHop: SipUri): Promise<Flow> {
    if (CACHE_METHODS.has(method)) {
      const c = this.e.registrations.lookup(uri.toString());
      if (c) return { protocol: c.protocol, address: c.remoteAddress, port: c.remotePort, transport: c.transport, connection: c };
    }
    // Host and port both count: a URI without a port means the default port (§4.3 loop check).
    if (isLocalHost(this.e.transports, nextHop.host, portOf(nextHop))) throw new Error('can not send request to myself');
    let dest;
    try {
      dest = await resolveUri(nextHop, this.e.config.hostAliases);
    } catch (err) {
      throw new Error(err instanceof DestinationError ? err.message : 'unable to resolve destination');
    }
    if (isLocalHost(this.e.transports, dest.address, dest.port)) throw new Error('can not send request to myself');
    let transport = selectTransport(this.e.transports, dest.protocol, dest.address);
    if (!transport && !dest.explicitTransport) {
      transport = this.e.transports[0];
      if (transport) dest = { ...dest, protocol: transport.protocol };
    }
    if (!transport) throw new Error('requested protocol/transport not available');
    const connection = dest.protocol === 'udp' ? undefined : this.e.transportLayer.findConnection(dest.protocol, dest.address, dest.port);
    return { protocol: dest.protocol, address: dest.address, port: dest.port, transport, connection };
  }

  /**
   * RFC 3261 §18.1.1: a request within 200 bytes of the path MTU goes over TCP instead.
   * Returns the UDP flow it replaced: if the TCP connect is refused the request goes back to
   * UDP (sofia-sip does the same), since plenty of SIP peers have no TCP listener.
   */
  private switchToTcpIfLarge(req: SipRequest, flow: Flow, uri: SipUri, branch: string): Flow | undefined {
    const mtu = this.e.config.mtu ?? 1500;
    if (flow.protocol !== 'udp' || uri.transport || req.toBuffer().length <= mtu - 200) return undefined;
    const tcp = selectTransport(this.e.transports, 'tcp', flow.address);
    if (!tcp) return undefined;
    const udp = { ...flow };
    flow.protocol = 'tcp';
    flow.transport = tcp;
    flow.connection = this.e.transportLayer.findConnection('tcp', flow.address, flow.port);
    req.setHeader('Via', this.e.dialogSender.via(flow, branch));
    log.debug({ callId: req.callId }, 'large request switched to TCP');
    return udp;
  }

  private attachBody(req: SipRequest, appMsg: AppMessage): void {
    if (!appMsg.body.length) return;
    req.body = appMsg.body;
    if (!req.hasHeader('Content-Type')) {
      if (appMsg.body.toString('latin1', 0, 3) !== 'v=0') throw new Error('missing content-type');
      req.setHeader('Content-Type', 'application/sdp');
    }
  }

  /** Create and start the client transaction for an app request; echo it to the app. */
  private startClient(
    cmd: AppCommand,
    req: SipRequest,
    flow: Flow,
    branch: string,
    o: { initial: boolean; localTag: string; dialogId: string; dialog?: Dialog; udpFallback?: Flow },
  ): OutgoingRequest {
    const txnId = this.e.newTxnId();
    const key = clientKeyFor(branch, req.method);
    const nr = this.e.networkResponses;
    const out = {
      txnId,
      app: cmd.app,
      req,
      flow,
      initial: o.initial,
      cancelled: false,
      localTag: o.localTag,
      dialogId: o.dialogId,
      dialog: o.dialog,
    } as OutgoingRequest;
    const user = {
      onResponse: (res: Parameters<typeof nr.onResponse>[1], retransmission = false) => nr.onResponse(out, res, retransmission),
      onTimeout: () => nr.onLocalFailure(out, 408),
      onTransportError: (err: unknown) => {
        const fallback = o.udpFallback;
        if (fallback && out.flow !== fallback && (err as TransportError).code === 'ECONNECT' && this.e.outgoing.get(txnId) === out) {
          // §18.1.1 switch refused by the peer: the same transaction again, over UDP. Nothing
          // reached the peer yet, so a CANCEL asked for meanwhile just ends it here.
          if (out.cancelled) return nr.onLocalFailure(out, 487);
          log.info({ method: req.method, err: (err as Error).message }, 'TCP refused for a large request: sending it over UDP');
          out.flow = fallback;
          req.setHeader('Via', this.e.dialogSender.via(fallback, branch));
          return start();
        }
        log.info({ method: req.method, err: (err as Error).message }, 'request could not be sent');
        nr.onLocalFailure(out, 503);
      },
    };
    const start = () => {
      const f = out.flow;
      const channel = this.e.requestChannel(f.protocol, f.address, f.port, f.transport, f.connection);
      out.txn =
        req.method === 'INVITE'
          ? new InviteClientTransaction(txnId, key, req, channel, this.e.timers, user)
          : new NonInviteClientTransaction(txnId, key, req, channel, this.e.timers, user);
      this.e.txns.addClient(out.txn);
      out.txn.start();
    };
    this.e.outgoing.set(txnId, out);
    const text = req.toString();
    cmd.app.send(
      wire.requestSent(cmd.msgId, { source: 'application', bytes: Buffer.byteLength(text), protocol: flow.protocol, address: flow.transport.localAddress, port: flow.transport.localPort }, txnId, text),
    );
    start();
    return out;
  }

  /** §4.4: a request inside an existing dialog. */
  inDialog(cmd: AppCommand, dialogId: string): void {
    void this.sendInDialog(cmd, dialogId).catch((err: Error) => {
      log.info({ dialogId, err: err.message }, 'in-dialog request from app not sent');
      cmd.app.send(wire.nok(cmd.msgId, err.message));
    });
  }

  private async sendInDialog(cmd: AppCommand, dialogId: string): Promise<void> {
    const appMsg = splitAppMessage(cmd.sip);
    const { method, uri: appUri } = parseRequestLine(appMsg.startLine);
    const dialog = this.e.dialogs.get(dialogId);
    if (!dialog) {
      if (method === 'ACK') throw new Error('ACK for non-success final response is automatically generated by server');
      throw new Error('Server error: unable to find dialog for dialog id provided');
    }
    if (method === 'ACK') return this.sendAck(cmd, dialog, appMsg);
    if (method === 'PRACK' && !dialog.inviteInProgress) throw new Error('Server error: unable to find IIP when sending PRACK');
    if (!dialog.remoteTarget) throw new Error(`Server error: unable to find route when sending request inside dialog for dialog id ${dialogId}`);
    if (method === 'BYE' && dialog.inviteInProgress) this.cancelReinvite(dialog);
    const useAppUri = method !== 'ACK' && !appUri.includes('placeholder');
    const { req, nextHop } = dialog.buildRequest(method, dialog.nextCSeq(), useAppUri ? appUri : undefined);
    const flow = await this.e.dialogSender.flowFor(dialog, nextHop);
    const branch = newBranch();
    req.prependHeader('Via', this.e.dialogSender.via(flow, branch));
    const hostport = this.e.hostport(flow.transport, flow.address);
    const appContact = appHeader(appMsg, 'contact');
    if (appContact) {
      req.addHeader('Contact', toNameAddr(replaceLocalhost(appContact, hostport)));
      if (method === 'INVITE' || method === 'SUBSCRIBE') dialog.localContact = req.getHeader('Contact') ?? dialog.localContact;
    } else if (['INVITE', 'SUBSCRIBE', 'REFER', 'UPDATE', 'NOTIFY'].includes(method) && dialog.localContact) {
      req.addHeader('Contact', dialog.localContact);
    }
    applyAppHeaders(req, appMsg.headers, { hostport, skip: IN_DIALOG_SKIP });
    this.attachBody(req, appMsg);
    if (method === 'INVITE' && req.body.length) {
      dialog.localSdp = req.body;
      dialog.localContentType = req.getHeader('Content-Type');
    }
    const out = this.startClient(cmd, req, flow, branch, { initial: false, localTag: dialog.localTag, dialogId: dialog.id, dialog });
    if (method === 'INVITE') dialog.inviteInProgress = { txnId: out.txnId, cseq: dialog.localCSeq };
    if (method === 'BYE') this.e.cdrs.emit('cdr:stop', 'application', 'normal-release', req);
  }

  /** ACK for a 2xx (§4.4 "ACK"): app-driven, remembered for retransmitted 2xx. */
  private async sendAck(cmd: AppCommand, dialog: Dialog, appMsg: AppMessage): Promise<void> {
    if (dialog.state !== 'confirmed' || dialog.ackCSeq === undefined) {
      if (dialog.state === 'early') this.e.dialogs.remove(dialog);
      throw new Error('ACK for non-success responses is automatically generated by the stack');
    }
    if (!dialog.remoteTarget) throw new Error(`Server error: unable to find route when sending request inside dialog for dialog id ${dialog.id}`);
    const cseq = dialog.ackCSeq;
    const { req, nextHop } = dialog.buildRequest('ACK', cseq);
    const flow = await this.e.dialogSender.flowFor(dialog, nextHop);
    req.prependHeader('Via', this.e.dialogSender.via(flow));
    applyAppHeaders(req, appMsg.headers, { hostport: this.e.hostport(flow.transport, flow.address), skip: IN_DIALOG_SKIP });
    this.attachBody(req, appMsg);
    const channel = this.e.requestChannel(flow.protocol, flow.address, flow.port, flow.transport, flow.connection);
    channel.send(req).catch((err: Error) => log.info({ dialogId: dialog.id, err: err.message }, 'ACK not sent'));
    dialog.lastAck = { cseq, ack: req, expires: Date.now() + 32_000 };
    dialog.ackCSeq = undefined;
    const text = req.toString();
    cmd.app.send(
      wire.requestSent(cmd.msgId, { source: 'application', bytes: Buffer.byteLength(text), protocol: flow.protocol, address: flow.transport.localAddress, port: flow.transport.localPort }, this.e.newTxnId(), text),
    );
    if (dialog.cancelled) {
      // §10.4: the INVITE was cancelled but a 200 won the race: ACK it, then BYE.
      await this.e.dialogSender.engineBye(dialog, 'ACK-BYE due to cancel race condition', 'system-initiated-termination');
    }
  }

  /** §4.4: BYE while our re-INVITE is pending cancels the re-INVITE first. */
  private cancelReinvite(dialog: Dialog): void {
    const out = dialog.inviteInProgress ? this.e.outgoing.get(dialog.inviteInProgress.txnId) : undefined;
    if (out) this.sendCancel(out, []);
  }

  /** §4.2 step 3: a request with a txnId must be a CANCEL of an INVITE the app sent. */
  cancelOrOther(cmd: AppCommand, txnId: string): void {
    const appMsg = splitAppMessage(cmd.sip);
    let method = '';
    try {
      method = parseRequestLine(appMsg.startLine).method;
    } catch {
      /* handled below */
    }
    if (method !== 'CANCEL') {
      cmd.app.send(wire.nok(cmd.msgId, `a ${method || 'request'} with a transaction id must be a CANCEL`));
      return;
    }
    const out = this.e.outgoing.get(txnId);
    if (!out || out.req.method !== 'INVITE') {
      cmd.app.send(wire.nok(cmd.msgId, `unable to cancel unknown transaction id: ${txnId}`));
      return;
    }
    const cancel = this.sendCancel(out, appMsg.headers);
    const text = cancel.toString();
    const f = out.flow;
    cmd.app.send(wire.requestSent(cmd.msgId, { source: 'application', bytes: Buffer.byteLength(text), protocol: f.protocol, address: f.transport.localAddress, port: f.transport.localPort }, this.e.newTxnId(), text));
  }

  /** RFC 3261 §9.1: CANCEL mirrors the INVITE; held until a provisional has arrived. */
  private sendCancel(out: OutgoingRequest, appHeaders: AppMessage['headers']): SipRequest {
    const cancel = buildCancel(out.req);
    applyAppHeaders(cancel, appHeaders, { hostport: this.e.hostport(out.flow.transport), skip: CANCEL_UNSAFE });
    cancel.body = Buffer.alloc(0);
    cancel.removeHeader('Content-Type');
    out.cancelled = true;
    if (out.dialog && out.initial) out.dialog.cancelled = true;
    const ict = out.txn as InviteClientTransaction;
    ict.whenProvisional(() => {
      if (ict.state !== 'proceeding') return;
      this.e.dialogSender.sendAndForget(cancel, out.flow);
    });
    return cancel;
  }
}
