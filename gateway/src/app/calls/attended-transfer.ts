/**
 * Attended transfer (RFC 5589 §7) across the B2BUA. The transferor A talks to X (call 1), then
 * consults Y (call 2), then REFERs X on call 1 with
 *   Refer-To: <sip:Y?Replaces=<A's call-2 dialog>>        (RFC 3891)
 * Nobody behind the gateway knows A's call-2 dialog but the gateway itself: the Replaces names one
 * of ITS legs. So the gateway resolves it to call 2 and does what X's INVITE-with-Replaces would
 * have done, without needing X to support REFER or Replaces: X and Y are joined, A's two dialogs
 * are ended (NOTIFY 200 on call 1, then BYE on both).
 *
 * Media: X and Y sit in two rtpengine calls. One of them moves into the other's (party-swap.ts,
 * re-INVITE), the other keeps its transport untouched. A browser is never the one moved: Chrome
 * keeps a DTLS association across re-INVITEs and would not handshake with a new rtpengine call.
 * So two browsers both stay, and the two rtpengine calls are linked (media/chained-media.ts).
 */
import type Srf from 'drachtio-srf';
import { createLogger } from '../../logging/logger';
import { otherLeg, type LegId } from '../media/media-session';
import type { CallMedia } from '../media/call-media';
import { ChainedMedia } from '../media/chained-media';
import { audioIntent, resumedAudio, type LegKind } from '../media/sdp-policy';
import { BridgedCall, hangUp, modify } from './bridged-call';
import { dialogsByLeg, type TransferDeps } from './blind-transfer';
import { SwapFailed, swapParty } from './party-swap';
import { ReferProgress, type ReplacesTarget } from './refer-request';

const log = createLogger('transfer');

type Req = Srf.SrfRequest;
type Res = Srf.SrfResponse;

interface Side {
  call: BridgedCall;
  /** The transferor's leg in this call. */
  transferorLeg: LegId;
}

/** The bridged call and leg whose dialog the Replaces names (tags compared either way round). */
export function findReplaced(calls: readonly BridgedCall[], replaces: ReplacesTarget): Side | undefined {
  for (const call of calls) {
    for (const leg of ['caller', 'callee'] as const) {
      const sip = call.dialogOf(leg).sip;
      if (sip.callId !== replaces.callId) continue;
      const tags = [sip.localTag, sip.remoteTag];
      if (tags.includes(replaces.toTag) && tags.includes(replaces.fromTag)) return { call, transferorLeg: leg };
    }
  }
  return undefined;
}

export async function attendedTransfer(d: TransferDeps, call: BridgedCall, transferorLeg: LegId, replaces: ReplacesTarget, req: Req, res: Res): Promise<void> {
  const consult = findReplaced(d.calls.all(), replaces);
  if (consult?.call === call) return void res.send(400, 'Bad Request - Replaces names the call the REFER came on', {});
  const first: Side = { call, transferorLeg };
  const transferor = call.dialogOf(transferorLeg);
  const progress = new ReferProgress(transferor, req.get('CSeq'));
  if (!consult || replaces.earlyOnly) {
    // What the transferee's INVITE with Replaces would have got (RFC 3891 §3): no such dialog, or
    // early-only for a dialog that is already confirmed.
    res.send(202);
    const status = consult ? '486 Busy Here' : '481 Call/Transaction Does Not Exist';
    log.info({ call: call.id, replaces: replaces.callId, status }, 'attended transfer refused');
    await progress.notify(status, true);
    return;
  }
  if (!call.beginTransfer(transferorLeg)) return void res.send(491, 'Request Pending', {});
  if (!consult.call.beginTransfer(consult.transferorLeg)) {
    call.transferFailed();
    return void res.send(491, 'Request Pending', {});
  }
  res.send(202);
  void progress.notify('100 Trying', false);

  // X (the transferee, call 1) and Y (the one consulted, call 2).
  const bothBrowsers = kindOf(first) === 'webrtc' && kindOf(consult) === 'webrtc';
  let joined: Joined;
  try {
    joined = bothBrowsers ? await joinInSeries(first, consult) : await moveOne(first, consult);
  } catch (err) {
    const failure = err instanceof SwapFailed ? err : new SwapFailed(err, undefined);
    log.info({ call: call.id, consult: consult.call.id, status: failure.status, err: failure.message }, 'attended transfer failed; both calls stay');
    if (call.transferorConnected) await progress.notify(`${failure.status} ${failure.reason}`, true);
    call.transferFailed();
    consult.call.transferFailed();
    return;
  }

  // The joined call takes over the two dialogs at once; then A is told and leaves both calls:
  // BYE on call 1 (RFC 5589 §7) and on call 2 as the replaced dialog (RFC 3891 §3).
  const transferorOnFirst = call.transferorConnected;
  call.detach();
  consult.call.detach();
  d.calls.remove(call);
  d.calls.remove(consult.call);
  const next = new BridgedCall(`${call.id}~${consult.call.id}`, joined.caller, joined.callee, joined.media, d.events);
  d.calls.add(next);
  next.start();
  hangUp(consult.call.dialogOf(consult.transferorLeg));
  if (joined.release) await joined.release.delete();
  if (transferorOnFirst) await progress.notify('200 OK', true);
  hangUp(transferor);
  log.info({ call: call.id, consult: consult.call.id, inSeries: bothBrowsers }, 'attended transfer completed');
}

function kindOf(side: Side): LegKind | undefined {
  return side.call.media.legKind(otherLeg(side.transferorLeg));
}

/** The joined call's dialogs (caller, callee), its media, and media no longer needed. */
interface Joined {
  caller: Srf.Dialog;
  callee: Srf.Dialog;
  media: CallMedia;
  release?: CallMedia;
}

/**
 * One party moves into the other's rtpengine call (party-swap.ts, re-INVITE). A browser is never
 * the one moved while the other party is a desk phone.
 */
async function moveOne(first: Side, consult: Side): Promise<Joined> {
  const keepFirst = !(kindOf(consult) === 'webrtc' && kindOf(first) !== 'webrtc');
  const [stay, move] = keepFirst ? [first, consult] : [consult, first];
  const stayLeg = otherLeg(stay.transferorLeg);
  const staying = stay.call.dialogOf(stayLeg);
  const mover = move.call.dialogOf(otherLeg(move.transferorLeg));
  try {
    await swapParty({
      media: stay.call.media,
      stayLeg,
      stay: staying,
      staySdp: stay.call.lastSdp(stayLeg),
      leavingSdp: stay.call.lastSdp(stay.transferorLeg),
      newcomerKind: kindOf(move) ?? 'legacy',
      reach: async (offer) => {
        await modify(mover, offer);
        return mover;
      },
    });
  } catch (err) {
    if (err instanceof SwapFailed && err.reached) await moveBack(move);
    throw err;
  }
  const [caller, callee] = dialogsByLeg(stayLeg, staying, mover);
  return { caller, callee, media: stay.call.media, release: move.call.media };
}

/**
 * Two browsers: neither may move (its DTLS association is with its own rtpengine call), so the
 * transferor's place in each call becomes a plain RTP link to the other call (ChainedMedia). Each
 * call offers its browser's side to the link, and each link leg answers with the other call's
 * offer: no browser sees a re-INVITE unless it was held and has to be resumed.
 */
async function joinInSeries(first: Side, consult: Side): Promise<Joined> {
  const ends = [first, consult].map((side) => ({ side, media: side.call.media, party: otherLeg(side.transferorLeg), link: side.transferorLeg }));
  const [x, y] = ends as [(typeof ends)[0], (typeof ends)[0]];
  const swaps = ends.map((e) => e.media.replaceParty(e.link, 'legacy'));
  try {
    const towardX = await x.media.offer(x.party, resumedAudio(x.side.call.lastSdp(x.party)));
    const towardY = await y.media.offer(y.party, resumedAudio(y.side.call.lastSdp(y.party)));
    await x.media.answer(x.link, towardY);
    await y.media.answer(y.link, towardX);
    // A browser the transferor held sends nothing: an offer from the link side resumes it.
    for (const [e, linkSdp] of [[x, towardY], [y, towardX]] as const) {
      if (audioIntent(e.side.call.lastSdp(e.party)).sends) continue;
      const offer = await e.media.offer(e.link, linkSdp);
      const answer = await modify(e.side.call.dialogOf(e.party), offer);
      await e.media.answer(e.party, answer);
    }
    const media = new ChainedMedia({ caller: { media: x.media, leg: x.party }, callee: { media: y.media, leg: y.party } }, { caller: towardY, callee: towardX });
    return { caller: x.side.call.dialogOf(x.party), callee: y.side.call.dialogOf(y.party), media };
  } catch (err) {
    for (const [i, e] of ends.entries()) {
      await swaps[i]!
        .revert({ [e.party]: e.side.call.lastSdp(e.party), [e.link]: e.side.call.lastSdp(e.link) } as Record<LegId, string>)
        .catch(() => undefined);
    }
    throw new SwapFailed(err, undefined);
  }
}

/** The mover was re-INVITEd into the other call before the swap failed: back into its own call. */
async function moveBack(move: Side): Promise<void> {
  const moveLeg = otherLeg(move.transferorLeg);
  const media = move.call.media;
  try {
    const offer = await media.offer(move.transferorLeg, move.call.lastSdp(move.transferorLeg));
    const answer = await modify(move.call.dialogOf(moveLeg), offer);
    await media.answer(moveLeg, answer);
  } catch (err) {
    log.warn({ call: move.call.id, err: (err as Error).message }, 'could not restore a party after a failed transfer: ending its call');
    move.call.transferFailed();
    await move.call.end('transfer failed and the media could not be restored');
  }
}
