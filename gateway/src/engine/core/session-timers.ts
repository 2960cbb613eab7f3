/**
 * Session timers (RFC 4028) as drachtio-server runs them (drachtio-protocol §10.8): when we are
 * the refresher we send a re-INVITE with the stored local SDP at half the interval; when the
 * peer is, we send BYE if no refresh arrives before the session expires.
 */
import { createLogger } from '../../logging/logger';
import type { Dialog } from '../dialog/dialog';
import { getHeaderParam } from '../sip/headers';
import type { SipMessage, SipRequest, SipResponse } from '../sip/message';
import { InviteClientTransaction } from '../transaction/invite-client';
import { clientKeyFor, newBranch } from '../transaction/transaction-layer';
import type { Engine } from './engine';
import type { Flow } from './pending';

const log = createLogger('session-timer');

/** Smallest session interval we accept (RFC 4028 §4: Min-SE default 90 s). */
export const MIN_SE = 90;

export function sessionExpiresOf(msg: SipMessage): number | undefined {
  const v = msg.getHeader('Session-Expires');
  if (v === undefined) return undefined;
  const n = parseInt(v, 10);
  return Number.isFinite(n) ? n : undefined;
}

export function refresherOf(msg: SipMessage): string | undefined {
  const v = msg.getHeader('Session-Expires');
  if (v === undefined) return undefined;
  const r = getHeaderParam(v, 'refresher');
  return typeof r === 'string' ? r.toLowerCase() : undefined;
}

export class SessionTimer {
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly e: Engine,
    private readonly dialog: Dialog,
    private interval: number,
    private readonly weRefresh: boolean,
  ) {
    this.arm();
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.stopped) return;
    if (this.weRefresh) {
      const jitter = Math.floor(Math.random() * 5000);
      this.timer = setTimeout(() => this.refresh(), Math.max(1000, (this.interval * 1000) / 2 - jitter));
    } else {
      // RFC 4028 §10: BYE at the expiry minus min(32 s, interval/3).
      const ms = this.interval * 1000 - Math.min(32_000, (this.interval * 1000) / 3);
      this.timer = setTimeout(() => this.expire(), ms);
    }
  }

  /** A re-INVITE or UPDATE from the peer refreshes the session (§10.8). */
  refreshedByPeer(req: SipRequest): void {
    if (req.method !== 'INVITE' && req.method !== 'UPDATE') return;
    const se = sessionExpiresOf(req);
    if (se) this.interval = Math.max(MIN_SE, se);
    this.arm();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private expire(): void {
    if (this.stopped || this.dialog.state === 'terminated') return;
    log.info({ dialogId: this.dialog.id }, 'session expired without refresh');
    void this.e.dialogSender.engineBye(this.dialog, 'Session timer expired', 'session-expired');
  }

  /** Refresh re-INVITE with the stored local SDP; the app is not involved (§10.8). */
  private async refresh(): Promise<void> {
    const d = this.dialog;
    if (this.stopped || d.state !== 'confirmed') return;
    if (d.inviteInProgress || d.incomingInviteTxnId) {
      this.timer = setTimeout(() => void this.refresh(), 2000);
      return;
    }
    const cseq = d.nextCSeq();
    const { req, nextHop } = d.buildRequest('INVITE', cseq);
    req.addHeader('Contact', d.localContact);
    req.addHeader('Session-Expires', `${this.interval};refresher=uac`);
    req.addHeader('Min-SE', String(MIN_SE));
    req.addHeader('Supported', 'timer');
    if (d.localSdp) req.setBody(d.localSdp, d.localContentType ?? 'application/sdp');
    try {
      const flow = await this.e.dialogSender.flowFor(d, nextHop);
      const branch = newBranch();
      req.prependHeader('Via', this.e.dialogSender.via(flow, branch));
      const channel = this.e.requestChannel(flow.protocol, flow.address, flow.port, flow.transport, flow.connection);
      d.inviteInProgress = { txnId: 'session-refresh', cseq };
      const txn = new InviteClientTransaction(this.e.newTxnId(), clientKeyFor(branch, 'INVITE'), req, channel, this.e.timers, {
        onResponse: (res, retransmission) => this.onRefreshResponse(res, retransmission, cseq, flow),
        onTimeout: () => this.failed('timeout'),
        onTransportError: () => this.failed('transport error'),
      });
      this.e.txns.addClient(txn);
      txn.start();
    } catch (err) {
      this.failed((err as Error).message);
    }
  }

  private onRefreshResponse(res: SipResponse, retransmission: boolean, cseq: number, flow: Flow): void {
    const d = this.dialog;
    if (res.status < 200) return;
    if (!retransmission) d.inviteInProgress = undefined;
    if (res.status < 300) {
      const { req: ack } = d.buildRequest('ACK', cseq);
      ack.prependHeader('Via', this.e.dialogSender.via(flow));
      this.e.requestChannel(flow.protocol, flow.address, flow.port, flow.transport, flow.connection).send(ack).catch(() => {});
      if (retransmission) return;
      d.updateTarget(res);
      const se = sessionExpiresOf(res);
      if (se) this.interval = Math.max(MIN_SE, se);
      this.arm();
    } else if (res.status === 491) {
      this.timer = setTimeout(() => void this.refresh(), 2000 + Math.floor(Math.random() * 2000));
    } else {
      this.failed(`refresh answered ${res.status}`);
    }
  }

  private failed(why: string): void {
    this.dialog.inviteInProgress = undefined;
    if (this.stopped || this.dialog.state === 'terminated') return;
    log.info({ dialogId: this.dialog.id, why }, 'session refresh failed');
    void this.e.dialogSender.engineBye(this.dialog, 'Session timer expired', 'session-expired');
  }
}
