/**
 * An answered call: the caller's dialog (uas), the callee's dialog (uac) and the rtpengine
 * session between them. Everything either side does mid-call goes through here:
 *   re-INVITE / UPDATE (hold, resume, codec change): a new offer through rtpengine, then the
 *     other side, then the answer back through rtpengine (RFC 3264 §8 in both directions);
 *   INFO with DTMF: played as RFC 4733 toward the other side; other INFO is relayed;
 *   BYE from either side: BYE to the other, rtpengine session deleted (always, once).
 */
import type Srf from 'drachtio-srf';
import { createLogger } from '../../logging/logger';
import type { CallMedia } from '../media/call-media';
import { otherLeg, type LegId } from '../media/media-session';
import { parseDtmfInfo } from './dtmf-info';

const log = createLogger('call');

type Dialog = Srf.Dialog;
type Req = Srf.SrfRequest;
type Res = Srf.SrfResponse;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Listener = (...args: any[]) => void;

export interface CallEvents {
  ended(call: BridgedCall, reason: string): void;
  /** A REFER from `leg` (transfer); without a handler REFER is declined with 603. */
  refer?(call: BridgedCall, leg: LegId, req: Req, res: Res): void;
}

/** Status of a SIP failure surfaced by srf (SipError), else a 500. */
function statusOf(err: unknown): number {
  const s = (err as { status?: number }).status;
  return typeof s === 'number' && s >= 400 ? s : 500;
}

/** Whether srf still holds the dialog (a BYE from the far end clears `connected`). */
export function isConnected(dialog: Dialog): boolean {
  return (dialog as unknown as { connected?: boolean }).connected !== false;
}

/**
 * BYE, once, never throwing: srf's destroy() without a callback returns a promise that rejects
 * when the dialog is already gone (e.g. its BYE crossed ours), and an unhandled rejection would
 * take the process down.
 */
export function hangUp(dialog: Dialog): void {
  if (!isConnected(dialog)) return;
  try {
    (dialog.destroy() as unknown as Promise<void> | undefined)?.catch?.((err: Error) => log.debug({ err: err.message }, 'BYE not sent'));
  } catch (err) {
    log.debug({ err: (err as Error).message }, 'BYE not sent');
  }
}

/**
 * dialog.modify() (re-INVITE) without its srf 5.0.x flaws: a non-200 final response leaves srf's
 * one-re-INVITE-at-a-time counter raised, so every later modify() on that dialog waits forever;
 * and the refused offer stays as the dialog's local SDP. Both are undone here.
 */
export async function modify(dialog: Dialog, sdp: string): Promise<string> {
  const previous = dialog.local.sdp;
  try {
    return await dialog.modify(sdp);
  } catch (err) {
    dialog.local.sdp = previous;
    const queue = (dialog as unknown as { _reinvitesInProgress?: { count: number; admitOne: Array<() => void> } })._reinvitesInProgress;
    if (typeof (err as { status?: unknown }).status === 'number' && queue && queue.count > 0) {
      queue.count -= 1;
      const next = queue.admitOne.shift();
      if (next) setImmediate(next);
    }
    throw err;
  }
}

export class BridgedCall {
  private ended = false;
  /** One offer/answer at a time per call (RFC 3261 §14.1): a second one meanwhile gets 491. */
  private negotiating = false;
  /**
   * A transfer (REFER) being carried out: re-offers get 491 meanwhile, and the transferor may hang
   * up (many phones send BYE right after the 202) without taking the transferee down with it.
   */
  private transfer: { transferor: LegId; transferorGone: boolean } | undefined;
  readonly startedAt = Date.now();
  /** Made on first use: most calls never need it, and abort() costs a DOMException. */
  private endedController: AbortController | undefined;
  /** Aborted when the call ends (e.g. to CANCEL a transfer target still ringing). */
  get endedSignal(): AbortSignal {
    if (!this.endedController) {
      this.endedController = new AbortController();
      if (this.ended) this.endedController.abort();
    }
    return this.endedController.signal;
  }
  /**
   * Each leg's SDP from the last offer/answer that completed. srf's dialog.remote.sdp is not it:
   * srf stores a re-INVITE's offer before it is accepted, and never an UPDATE's.
   */
  private readonly negotiated: Record<LegId, string>;

  constructor(
    readonly id: string,
    readonly uas: Dialog,
    readonly uac: Dialog,
    readonly media: CallMedia,
    private readonly events: CallEvents,
  ) {
    this.negotiated = { caller: uas.remote.sdp, callee: uac.remote.sdp };
  }

  /** The SDP `leg` last agreed to (its offer or answer in the last completed exchange). */
  lastSdp(leg: LegId): string {
    return this.negotiated[leg];
  }

  start(): void {
    this.wire('caller', this.uas);
    this.wire('callee', this.uac);
    // With srf's promise API a BYE that arrives in the same read as the ACK (or the 200) is
    // handled before these listeners exist: its 'destroy' is gone, but `connected` tells.
    for (const leg of ['caller', 'callee'] as const) {
      if (!isConnected(this.dialogOf(leg))) {
        void this.end(`${leg} hung up while the call was being set up`, leg);
        return;
      }
    }
  }

  dialogOf(leg: LegId): Dialog {
    return leg === 'caller' ? this.uas : this.uac;
  }

  private listeners: Array<[Dialog, string, Listener]> = [];

  private listen(dialog: Dialog, event: string, fn: Listener): void {
    (dialog as unknown as NodeJS.EventEmitter).on(event, fn);
    this.listeners.push([dialog, event, fn]);
  }

  private wire(leg: LegId, dialog: Dialog): void {
    this.listen(dialog, 'destroy', () => {
      if (this.transfer?.transferor === leg) this.transfer.transferorGone = true;
      else void this.end(`${leg} hung up`, leg);
    });
    this.listen(dialog, 'modify', (req: Req, res: Res) => void this.reoffer(leg, req, res, 'INVITE'));
    this.listen(dialog, 'update', (req: Req, res: Res) => void this.reoffer(leg, req, res, 'UPDATE'));
    this.listen(dialog, 'info', (req: Req, res: Res) => void this.info(leg, req, res));
    this.listen(dialog, 'refer', (req: Req, res: Res) => {
      if (this.events.refer && !this.ended) this.events.refer(this, leg, req, res);
      else res.send(603);
    });
  }

  /**
   * A transfer from `transferorLeg` starts; false (the REFER should get 491) while another offer
   * or transfer is under way, or once the call has ended.
   */
  beginTransfer(transferorLeg: LegId): boolean {
    if (this.ended || this.negotiating || this.transfer) return false;
    this.transfer = { transferor: transferorLeg, transferorGone: false };
    return true;
  }

  /** The transfer failed: the call goes on as before, or ends if the transferor hung up meanwhile. */
  transferFailed(): void {
    const gone = this.transfer?.transferorGone;
    const leg = this.transfer?.transferor;
    this.transfer = undefined;
    if (gone && leg) void this.end(`${leg} hung up during a transfer that failed`, leg);
  }

  /** Whether the transferor's dialog is still up (it may hang up during the transfer). */
  get transferorConnected(): boolean {
    const t = this.transfer;
    return t !== undefined && !t.transferorGone && !this.ended && isConnected(this.dialogOf(t.transferor));
  }

  /**
   * The dialogs move to another call (transfer): stop handling their events here without
   * hanging anything up. The caller deletes the media session and the registry entry.
   */
  detach(): void {
    for (const [d, event, fn] of this.listeners) (d as unknown as NodeJS.EventEmitter).off(event, fn);
    this.listeners = [];
    this.ended = true;
  }

  /** A new offer from `leg` (RFC 3264 §8): through rtpengine to the other side and back. */
  private async reoffer(leg: LegId, req: Req, res: Res, method: 'INVITE' | 'UPDATE'): Promise<void> {
    const dialog = this.dialogOf(leg);
    if (!req.body) {
      // No offer (session refresh). A re-INVITE's 200 must carry an offer: what we last sent this
      // side. An UPDATE's 200 must not carry SDP at all (RFC 3311 §5.2: no offer, no answer).
      if (method === 'UPDATE') res.send(200);
      else res.send(200, { body: dialog.local.sdp, headers: { 'Content-Type': 'application/sdp' } });
      return;
    }
    if (this.negotiating || this.ended || this.transfer) {
      res.send(491);
      return;
    }
    this.negotiating = true;
    const other = this.dialogOf(otherLeg(leg));
    try {
      const toOther = await this.media.offer(leg, req.body);
      let theirAnswer: string;
      if (method === 'INVITE') {
        theirAnswer = await modify(other, toOther);
      } else {
        const r = await other.request({ method: 'UPDATE', body: toOther, headers: { 'Content-Type': 'application/sdp' } } as unknown as Req);
        if (r.status === 405 || r.status === 501) {
          // The other side does not do UPDATE (many desk phones): the same offer as a re-INVITE.
          theirAnswer = await modify(other, toOther);
        } else if (r.status >= 300) {
          throw Object.assign(new Error(`UPDATE answered ${r.status}`), { status: r.status });
        } else {
          theirAnswer = r.body;
          other.local.sdp = toOther; // srf records SDP only for modify()
          other.remote.sdp = theirAnswer;
        }
      }
      const back = await this.media.answer(otherLeg(leg), theirAnswer);
      res.send(200, { body: back, headers: { 'Content-Type': 'application/sdp' } });
      this.negotiated[leg] = req.body;
      this.negotiated[otherLeg(leg)] = theirAnswer;
      // srf does not record SDP sent in a response: keep it for offer-less re-INVITEs (above).
      dialog.local.sdp = back;
      log.info({ call: this.id, from: leg, method }, 'media renegotiated');
    } catch (err) {
      const status = statusOf(err);
      log.warn({ call: this.id, from: leg, method, status, err: (err as Error).message }, 'renegotiation failed');
      res.send(status === 491 ? 491 : status >= 500 ? 500 : 488);
      await this.media.abandonPendingOffer(); // after the answer: a dead rtpengine must not delay it
    } finally {
      this.negotiating = false;
    }
  }

  /** INFO: DTMF becomes RFC 4733 toward the other side; anything else is relayed as is. */
  private async info(leg: LegId, req: Req, res: Res): Promise<void> {
    const dtmf = parseDtmfInfo(req.get('Content-Type'), req.body ?? '');
    if (dtmf) {
      try {
        await this.media.playDtmf(leg, dtmf.digit, { durationMs: dtmf.durationMs });
        res.send(200);
        log.info({ call: this.id, from: leg, digit: dtmf.digit }, 'DTMF INFO played as RFC 4733');
      } catch (err) {
        log.warn({ call: this.id, err: (err as Error).message }, 'DTMF could not be played');
        res.send(500);
      }
      return;
    }
    try {
      const headers: Record<string, string> = {};
      const type = req.get('Content-Type');
      if (type) headers['Content-Type'] = type;
      const r = await this.dialogOf(otherLeg(leg)).request({ method: 'INFO', headers, body: req.body } as unknown as Req);
      res.send(r.status);
    } catch (err) {
      res.send(statusOf(err));
    }
  }

  /** Tear down once: BYE the side that did not hang up, delete the rtpengine session. */
  async end(reason: string, hungUp?: LegId): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    this.endedController?.abort();
    for (const leg of ['caller', 'callee'] as const) {
      if (leg !== hungUp) hangUp(this.dialogOf(leg));
    }
    await this.media.delete();
    log.info({ call: this.id, reason, seconds: Math.round((Date.now() - this.startedAt) / 1000) }, 'call ended');
    this.events.ended(this, reason);
  }
}
