/**
 * The media half of every transfer: a party takes the place of one leg of a bridged call, inside
 * that call's rtpengine session (MediaSession.replaceParty), so the party that stays keeps its
 * media transport (a browser keeps ICE and DTLS). Two offer/answer exchanges (RFC 3264 §8):
 *
 *   1. the staying party's last SDP, made sendrecv (a transfer resumes a call its transferor may
 *      have held), is offered through rtpengine to the newcomer: a new INVITE (blind transfer) or
 *      a re-INVITE (attended transfer, the newcomer comes from another call);
 *   2. the newcomer's answer is offered through rtpengine to the staying party in a re-INVITE, and
 *      the staying party's answer goes back through rtpengine.
 *
 * When either exchange fails, rtpengine gives the staying party's media back to the old party.
 */
import type Srf from 'drachtio-srf';
import type { CallMedia } from '../media/call-media';
import { otherLeg, type LegId } from '../media/media-session';
import { resumedAudio, type LegKind } from '../media/sdp-policy';
import { modify } from './bridged-call';

type Dialog = Srf.Dialog;

export interface SwapPlan {
  media: CallMedia;
  /** The leg whose party stays; the newcomer takes the other leg. */
  stayLeg: LegId;
  stay: Dialog;
  /** The staying party's SDP from the last completed exchange (BridgedCall.lastSdp). */
  staySdp: string;
  /** The leaving party's (the transferor's) likewise: used to revert. */
  leavingSdp: string;
  newcomerKind: LegKind;
  /** Delivers the offer to the newcomer; resolves with its dialog once it answered. */
  reach(offer: string): Promise<Dialog>;
}

/** Thrown when the swap failed; `reached` is the newcomer's dialog if it had answered. */
export class SwapFailed extends Error {
  constructor(
    override readonly cause: unknown,
    readonly reached: Dialog | undefined,
  ) {
    super((cause as Error).message ?? String(cause));
    this.name = 'SwapFailed';
  }

  get status(): number {
    const s = (this.cause as { status?: number }).status;
    return typeof s === 'number' ? s : 500;
  }

  get reason(): string {
    return (this.cause as { reason?: string }).reason ?? 'Failed';
  }
}

/** Runs the two exchanges; resolves with the newcomer's dialog. */
export async function swapParty(plan: SwapPlan): Promise<Dialog> {
  const { media, stayLeg, stay } = plan;
  const newLeg = otherLeg(stayLeg);
  const swap = media.replaceParty(newLeg, plan.newcomerKind);
  let reached: Dialog | undefined;
  try {
    const offer = await media.offer(stayLeg, resumedAudio(plan.staySdp));
    reached = await plan.reach(offer);
    await media.answer(newLeg, reached.remote.sdp);
    const reoffer = await media.offer(newLeg, reached.remote.sdp);
    const answer = await modify(stay, reoffer);
    await media.answer(stayLeg, answer);
    return reached;
  } catch (err) {
    await swap
      .revert({ [stayLeg]: plan.staySdp, [newLeg]: plan.leavingSdp } as Record<LegId, string>)
      .catch(() => undefined); // the call is then as good as the old party's next re-INVITE
    throw new SwapFailed(err, reached);
  }
}
