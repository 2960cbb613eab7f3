/**
 * Which legs' outgoing media rtpengine drops (`block media` / `unblock media` with the leg's tag as
 * from-tag), and why. A leg is blocked while any reason holds:
 *
 *  - 'direction': the other leg does not want to receive (a=sendonly/inactive; enforceDirection,
 *    decided after every completed offer/answer). rtpengine itself forwards whatever arrives.
 *
 *  - 'renegotiating': a re-offer from this leg is waiting for its answer, in a call that had a
 *    party swapped. When a dialogue in rtpengine 10.5 is not one-to-one any more (after a party
 *    swap, the old party's monologue stays subscribed: MediaSession.replaceParty), every offer
 *    re-subscribes both sides afresh
 *    (daemon/call.c call_get_dialogue -> __subscribe_offer_answer_both_ways), which clears the
 *    offerer->answerer transcoding flag until the answer sets it again. In between, the offerer's
 *    packets leave with their own SSRC instead of the mapped one rtpengine sends otherwise
 *    (media_socket.c __stream_ssrc_out, "egress (direct)"). Chrome, which is told no SSRC, hooks
 *    its audio output to the newest unsignaled SSRC it sees (webrtc_voice_engine.cc), so a few such
 *    packets followed by the usual SSRC leave a browser playing, and counting, nothing. The
 *    offerer's packets are dropped for the few milliseconds of the exchange instead (two small ng
 *    commands per re-offer). Calls that never had a party swapped keep one-to-one dialogues and
 *    are not gated: their re-offers (hold, session refreshes) keep the offerer's audio flowing.
 */
import type { LegId } from './media-session';

export type BlockReason = 'direction' | 'renegotiating';

/** What a leg's gate looked like, to be put back (a reverted party swap). */
export interface GateSnapshot {
  reasons: BlockReason[];
  engineBlocked: boolean;
}

export class MediaGate {
  private readonly reasons: Record<LegId, Set<BlockReason>> = { caller: new Set(), callee: new Set() };
  /** What rtpengine was last told, per leg. */
  private readonly engineBlocked = new Set<LegId>();

  /** `send` tells rtpengine to block or unblock the media `leg` sends (its current tag). */
  constructor(private readonly send: (leg: LegId, block: boolean) => Promise<void>) {}

  /** Legs rtpengine currently drops media from. */
  get blockedLegs(): LegId[] {
    return [...this.engineBlocked];
  }

  /**
   * Sets or clears reasons for `leg` and tells rtpengine when that changes whether the leg is
   * blocked (one command at most). Returns whether a command was sent.
   */
  async set(leg: LegId, changes: Partial<Record<BlockReason, boolean>>): Promise<boolean> {
    const next = new Set(this.reasons[leg]);
    for (const [reason, on] of Object.entries(changes) as [BlockReason, boolean][]) {
      if (on) next.add(reason);
      else next.delete(reason);
    }
    const block = next.size > 0;
    const changed = block !== this.engineBlocked.has(leg);
    // Nothing is recorded unless rtpengine took the command: a failed unblock is tried again later.
    if (changed) await this.send(leg, block);
    this.reasons[leg] = next;
    if (block) this.engineBlocked.add(leg);
    else this.engineBlocked.delete(leg);
    return changed;
  }

  /** A new party on `leg` (a new rtpengine monologue, nothing blocked): forget the old one's state. */
  reset(leg: LegId): GateSnapshot {
    const snapshot = { reasons: [...this.reasons[leg]], engineBlocked: this.engineBlocked.has(leg) };
    this.reasons[leg].clear();
    this.engineBlocked.delete(leg);
    return snapshot;
  }

  /** The old party is back on `leg` (its monologue kept its block flag). */
  restore(leg: LegId, snapshot: GateSnapshot): void {
    this.reasons[leg] = new Set(snapshot.reasons);
    if (snapshot.engineBlocked) this.engineBlocked.add(leg);
    else this.engineBlocked.delete(leg);
  }
}
