/**
 * What a bridged call needs from its media, whether it lives in one rtpengine call
 * (MediaSession, every call but one kind) or in two in series (ChainedMedia, two browsers joined
 * by an attended transfer). Legs are the bridged call's: 'caller' and 'callee'.
 */
import type { LegId, PartyReplacement, PlayDtmfOptions } from './media-session';
import type { LegKind } from './sdp-policy';

/** One rtpengine call a bridged call's media goes through, and which of the call's legs a tag is. */
export interface RtpenginePart {
  readonly callId: string;
  /** The bridged call's leg whose party sends with this tag; undefined for any other tag. */
  legForTag(tag: string): LegId | undefined;
}

export interface CallMedia {
  /** rtpengine call-id (the first one, for logs). */
  readonly callId: string;
  readonly parts: readonly RtpenginePart[];
  /** An offer from `fromLeg`; returns the SDP for the other leg. */
  offer(fromLeg: LegId, sdp: string): Promise<string>;
  /** The answer from `toLeg` to the pending offer; returns the SDP for the offerer. */
  answer(toLeg: LegId, sdp: string): Promise<string>;
  /** Forget a rejected offer (and let the offerer's media flow again). Never throws. */
  abandonPendingOffer(): Promise<void>;
  /** RFC 4733 as if `fromLeg` had sent it (the packets reach the other leg). */
  playDtmf(fromLeg: LegId, digit: string, options?: PlayDtmfOptions): Promise<void>;
  legKind(leg: LegId): LegKind | undefined;
  /** A new party on `leg` in the same media (transfers): see MediaSession.replaceParty. */
  replaceParty(leg: LegId, kind: LegKind): PartyReplacement;
  /** Idempotent, never throws. */
  delete(): Promise<unknown>;
}
