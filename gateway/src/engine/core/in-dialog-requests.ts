/**
 * Requests from the network inside an existing dialog (drachtio-protocol §10.2, §10.3; RFC 3261
 * §12.2.2, §14.2; RFC 3262 PRACK; RFC 3311 UPDATE; RFC 4028 Min-SE).
 */
import { createLogger } from '../../logging/logger';
import * as wire from '../control/wire';
import type { Dialog } from '../dialog/dialog';
import type { SipRequest } from '../sip/message';
import type { ServerTransaction } from '../transaction/transaction-layer';
import type { Engine, InboundInfo } from './engine';
import type { NetworkRequests } from './network-requests';
import { buildResponse } from './responses';
import { MIN_SE, sessionExpiresOf } from './session-timers';

const log = createLogger('sip-in');

export class InDialogRequests {
  constructor(
    private readonly e: Engine,
    private readonly requests: NetworkRequests,
  ) {}

  handle(req: SipRequest, info: InboundInfo, dialog: Dialog): void {
    const cseq = cseqNumber(req);
    // §12.2.2: a CSeq lower than the last one seen is out of order.
    if (req.method !== 'PRACK' && dialog.remoteCSeq && cseq < dialog.remoteCSeq) {
      this.e.sendStatelessResponse(buildResponse(req, 500, 'Server Internal Error - CSeq out of order'), info);
      return;
    }
    if (cseq > dialog.remoteCSeq) dialog.remoteCSeq = cseq;

    if (req.method === 'INVITE' || req.method === 'UPDATE') {
      const se = sessionExpiresOf(req);
      if (se !== undefined && se < MIN_SE) {
        const res = buildResponse(req, 422);
        res.addHeader('Min-SE', String(MIN_SE));
        this.e.sendStatelessResponse(res, info);
        return;
      }
    }
    if (req.method === 'INVITE') {
      if (dialog.incomingInviteTxnId && this.e.incoming.has(dialog.incomingInviteTxnId)) {
        // §14.2: an INVITE while one from the peer is still open.
        const res = buildResponse(req, 500, 'Server Internal Error - re-INVITE in progress');
        res.addHeader('Retry-After', String(1 + Math.floor(Math.random() * 10)));
        this.e.sendStatelessResponse(res, info);
        return;
      }
      if (dialog.inviteInProgress) {
        this.e.sendStatelessResponse(buildResponse(req, 491), info); // §14.2 glare
        return;
      }
    }
    if (req.method === 'UPDATE' && dialog.state === 'early' && dialog.incomingInviteTxnId) {
      return this.earlyUpdate(req, info, dialog);
    }

    const app = this.e.dialogApp(dialog);
    const txn = this.requests.createServerTransaction(req, info);
    if (req.method === 'INVITE') txn.respond(buildResponse(req, 100));
    if (req.method === 'BYE' || this.endsSubscription(req, dialog)) {
      this.e.dialogs.remove(dialog);
      if (req.method === 'BYE') this.e.cdrs.emit('cdr:stop', 'network', 'normal-release', req);
    }
    if (!app) {
      // The owning app is gone: answer ourselves so the peer is not left retrying.
      const status = req.method === 'BYE' ? 200 : 481;
      log.info({ method: req.method, dialogId: dialog.id, status }, 'in-dialog request for a dialog whose app is gone');
      txn.respond(buildResponse(req, status));
      if (req.method !== 'BYE') this.e.dialogs.remove(dialog);
      return;
    }
    if (req.method === 'INVITE' || req.method === 'UPDATE') dialog.updateTarget(req);
    const pending = this.requests.track(req, info, txn, app, dialog);
    if (req.method === 'INVITE') dialog.incomingInviteTxnId = txn.txnId;
    if (req.method === 'PRACK') this.onPrack(req, dialog);
    dialog.sessionTimer?.refreshedByPeer?.(req);
    this.requests.deliver(pending, dialog.id, false);
  }

  private endsSubscription(req: SipRequest, dialog: Dialog): boolean {
    if (req.method !== 'NOTIFY' || !dialog.isSubscription) return false;
    if (/^refer\b/i.test(req.getHeader('Event') ?? '')) return false;
    return /^\s*terminated/i.test(req.getHeader('Subscription-State') ?? '');
  }

  /** PRACK for our reliable provisional (RFC 3262 §3): stop retransmitting it. */
  private onPrack(req: SipRequest, dialog: Dialog): void {
    const invite = dialog.incomingInviteTxnId ? this.e.incoming.get(dialog.incomingInviteTxnId) : undefined;
    if (!invite?.reliable) return;
    // RFC 3262 §7.2: RAck = response-num CSeq-num Method. Read the numbers leniently: some
    // UACs (SIPp scenarios among them) repeat the method.
    const m = /^\s*(\d+)\s+(\d+)/.exec(req.getHeader('RAck') ?? '');
    if (m && Number(m[1]) === invite.reliable.rseq) {
      invite.reliable.retransmit.stop();
      invite.reliable = undefined;
      this.e.appResponses.sendQueuedReliable(invite);
    }
  }

  /** UPDATE in an early dialog while the INVITE is unanswered (§5.2 kind 4). */
  private earlyUpdate(req: SipRequest, info: InboundInfo, dialog: Dialog): void {
    const invite = this.e.incoming.get(dialog.incomingInviteTxnId ?? '');
    if (!invite) {
      this.e.sendStatelessResponse(buildResponse(req, 481), info);
      return;
    }
    if (invite.earlyUpdate) {
      const res = buildResponse(req, 500, 'Server Internal Error - UPDATE in progress');
      res.addHeader('Retry-After', '1');
      this.e.sendStatelessResponse(res, info);
      return;
    }
    const txn = this.requests.createServerTransaction(req, info);
    invite.earlyUpdate = { req, txn };
    const meta: wire.WireMeta = { source: 'network', bytes: info.bytes, protocol: info.protocol, address: info.remoteAddress, port: info.remotePort };
    this.e.send(invite.app, wire.sipMessage(meta, invite.txnId, dialog.id, req.toString()));
  }

  /** ACK for a 2xx we sent (§13.3.1.4): stop retransmitting, hand it to the app. */
  onAck(req: SipRequest, info: InboundInfo, dialog: Dialog): void {
    const cseq = cseqNumber(req);
    if (!dialog.ackWait || dialog.ackWaitCSeq !== cseq) {
      log.debug({ dialogId: dialog.id }, 'retransmitted or stray ACK absorbed');
      return;
    }
    dialog.ackWait.stop();
    dialog.ackWait = undefined;
    dialog.ackWaitCSeq = undefined;
    const app = this.e.dialogApp(dialog);
    const meta: wire.WireMeta = { source: 'network', bytes: info.bytes, protocol: info.protocol, address: info.remoteAddress, port: info.remotePort };
    this.e.send(app, wire.sipMessage(meta, this.e.newTxnId(), dialog.id, req.toString()));
  }

  /** CANCEL for an INVITE we already answered 2xx (§10.2): 481, then tear the call down. */
  cancelAfter200(req: SipRequest, cancelTxn: ServerTransaction, dialog: Dialog | undefined): void {
    cancelTxn.respond(buildResponse(req, 481, undefined, this.e.newTag())); // §8.2.6.2: tagged
    if (dialog && dialog.state !== 'terminated') void this.e.dialogSender.engineBye(dialog, 'CANCEL after 200 OK');
  }
}

function cseqNumber(req: SipRequest): number {
  const n = parseInt((req.getHeader('CSeq') ?? '').trim(), 10);
  return Number.isFinite(n) ? n : 0;
}
