/**
 * A call whose media runs through two rtpengine calls in series: party X in the first, party Y
 * in the second, and between them a plain RTP/AVP link (each call's other leg points at the
 * other call's ports). Made by an attended transfer that joins two browsers: each stays in its
 * own rtpengine call, keeping its ICE and DTLS association. Moving either into the other's call
 * would need a new DTLS handshake that Chrome does not make on a re-INVITE (same rtpengine
 * certificate fingerprint), so neither is moved.
 *
 * Offer/answer crosses both (RFC 3264 §8): an offer from X goes through X's call toward the link,
 * that SDP is offered into Y's call from the link side, and Y's answer comes back the same way.
 * DTMF is played in the sender's call (it crosses the link like audio); DTMF events are taken
 * only from the parties' own tags (`parts`), never from the link's, so no digit is seen twice.
 */
import type { CallMedia, RtpenginePart } from './call-media';
import { otherLeg, type LegId, type PartyReplacement, type PlayDtmfOptions } from './media-session';
import type { LegKind } from './sdp-policy';

/** Where one party of the chained call is: its media and its leg in that media. */
export interface ChainEnd {
  media: CallMedia;
  leg: LegId;
}

export class ChainedMedia implements CallMedia {
  /** What each end's link leg last "said": the SDP the other end produced toward the link. */
  private readonly linkSdp: Map<CallMedia, string>;

  /**
   * `ends`: the bridged call's legs; `linkSdp`: for each end's media, the SDP the other end last
   * produced toward the link (what its link leg currently has as its own SDP).
   */
  constructor(
    private readonly ends: Record<LegId, ChainEnd>,
    linkSdp: Record<LegId, string>,
  ) {
    this.linkSdp = new Map([
      [ends.caller.media, linkSdp.caller],
      [ends.callee.media, linkSdp.callee],
    ]);
  }

  get callId(): string {
    return this.ends.caller.media.callId;
  }

  get parts(): readonly RtpenginePart[] {
    return (['caller', 'callee'] as const).flatMap((leg) => {
      const end = this.ends[leg];
      return end.media.parts.map((part) => ({
        callId: part.callId,
        legForTag: (tag: string) => (part.legForTag(tag) === end.leg ? leg : undefined),
      }));
    });
  }

  async offer(fromLeg: LegId, sdp: string): Promise<string> {
    const from = this.ends[fromLeg];
    const to = this.ends[otherLeg(fromLeg)];
    const towardLink = await from.media.offer(from.leg, sdp);
    this.linkSdp.set(to.media, towardLink);
    return to.media.offer(otherLeg(to.leg), towardLink);
  }

  async answer(toLeg: LegId, sdp: string): Promise<string> {
    const answerer = this.ends[toLeg];
    const offerer = this.ends[otherLeg(toLeg)];
    const towardLink = await answerer.media.answer(answerer.leg, sdp);
    this.linkSdp.set(offerer.media, towardLink);
    return offerer.media.answer(otherLeg(offerer.leg), towardLink);
  }

  async abandonPendingOffer(): Promise<void> {
    await Promise.all([this.ends.caller.media.abandonPendingOffer(), this.ends.callee.media.abandonPendingOffer()]);
  }

  playDtmf(fromLeg: LegId, digit: string, options?: PlayDtmfOptions): Promise<void> {
    const end = this.ends[fromLeg];
    return end.media.playDtmf(end.leg, digit, options);
  }

  legKind(leg: LegId): LegKind | undefined {
    const end = this.ends[leg];
    return end.media.legKind(end.leg);
  }

  replaceParty(leg: LegId, kind: LegKind): PartyReplacement {
    const end = this.ends[leg];
    const inner = end.media.replaceParty(end.leg, kind);
    return {
      tag: inner.tag,
      // Inside that end's media the other leg is the link: its last SDP is the link's.
      revert: (lastSdp) => inner.revert({ [end.leg]: lastSdp[leg], [otherLeg(end.leg)]: this.linkSdp.get(end.media) ?? '' } as Record<LegId, string>),
    };
  }

  async delete(): Promise<unknown> {
    return Promise.all([this.ends.caller.media.delete(), this.ends.callee.media.delete()]);
  }
}
