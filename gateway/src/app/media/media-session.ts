/**
 * One B2BUA call's media in rtpengine: the initial offer/answer, re-offers from either leg
 * (hold/resume with sendonly/inactive, codec changes), play DTMF and the final delete.
 *
 * rtpengine identifies a call by call-id and its two participants by tag. Each leg gets one fixed
 * tag for the life of the call (the caller's defaults to its SIP From-tag, the callee's is made up:
 * the callee's SIP to-tag is not known when the offer toward it is built, and forked early dialogs
 * would give several). The bookkeeping is then simple and right in both directions:
 *   offer from leg X  -> from-tag = tag(X), to-tag = tag(other)   (to-tag only once rtpengine knows it)
 *   answer by leg Y   -> from-tag = tag(offerer), to-tag = tag(Y)
 *   play DTMF from X  -> from-tag = tag(X)      (packets go to the other leg)
 */
import { randomBytes } from 'node:crypto';
import { codecPlanFor, ngProfileFor, resolveMediaPolicy, type CodecPlan, type MediaPolicy } from './leg-profiles';
import type { NgQueryReply, NgReply } from './ng-types';
import type { RtpenginePool } from './rtpengine-pool';
import { PinnedEngine } from './pinned-engine';
import {
  addressMatcher,
  audioIntent,
  detectLegKind,
  filterCandidates,
  offeredAudioCodecs,
  removeCodecs,
  stripBrowserAttributes,
  stripSsrcAttributes,
  type LegKind,
} from './sdp-policy';
import { createLogger } from '../../logging/logger';
import type { CallMedia, RtpenginePart } from './call-media';
import { SdpOrigin } from './sdp-origin';
import { MediaGate, type GateSnapshot } from './media-gate';

const log = createLogger('media-session');

export type LegId = 'caller' | 'callee';

export interface LegSetup {
  /** webrtc/legacy; when left out for the caller it is detected from its first offer. */
  kind?: LegKind;
  /** rtpengine tag; default: random for the callee. The caller's is required (its SIP From-tag). */
  tag?: string;
}

export interface MediaSessionOptions {
  pool: RtpenginePool;
  /** rtpengine call-id: the inbound leg's Call-ID. */
  callId: string;
  caller: LegSetup & { tag: string };
  callee: LegSetup & { kind: LegKind };
  policy?: Partial<MediaPolicy>;
}

export interface PlayDtmfOptions {
  durationMs?: number;
  /** Level in -dBm0 (10 = -10 dBm0). Always sent: 10.5 otherwise plays at -63 dBm0. */
  volume?: number;
  pauseMs?: number;
}

export type MediaSessionState = 'idle' | 'offered' | 'established' | 'deleted';

/** A party swap in progress (see MediaSession.replaceParty). */
export interface PartyReplacement {
  /** The new party's rtpengine tag. */
  readonly tag: string;
  /**
   * The swap failed (the new party never answered): the leg gets its old party back. `lastSdp` is
   * each leg's last SDP (the dialogs' remote SDP); when rtpengine already moved the remaining party
   * to the new one, an offer/answer with them re-associates the old pair (outputs are discarded:
   * neither party's transport changed).
   */
  revert(lastSdp: Record<LegId, string>): Promise<void>;
}

interface PendingOffer {
  fromLeg: LegId;
  /** The offerer's own SDP (its direction counts once the answer arrives). */
  offerSdp: string;
}

const DIGITS = /^[0-9*#A-Da-d]$/;

export function otherLeg(leg: LegId): LegId {
  return leg === 'caller' ? 'callee' : 'caller';
}

export class MediaSession implements CallMedia {
  readonly callId: string;
  /** The rtpengine the call is pinned to after its first offer. */
  private readonly engine: PinnedEngine;
  private readonly policy: MediaPolicy;
  private readonly tags: Record<LegId, string>;
  private readonly kinds: Partial<Record<LegId, LegKind>>;
  private readonly candidateAllowed: ((address: string) => boolean) | undefined;
  private pending: PendingOffer | undefined;
  private codecPlan: CodecPlan | undefined;
  /** Tags rtpengine has seen in an offer or answer (a to-tag may only be sent once it has). */
  private readonly knownToEngine = new Set<LegId>();
  /** Legs whose outgoing media rtpengine currently drops, and why (media-gate.ts). */
  private readonly gate = new MediaGate((leg, block) => this.sendBlock(leg, block));
  /** The o= line each party sees (one session id per party, versions that follow changes). */
  private readonly origins: Record<LegId, SdpOrigin> = { caller: new SdpOrigin(), callee: new SdpOrigin() };
  /** A leg whose new party rtpengine does not know yet: the next offer toward it names its tag. */
  private introducing: { leg: LegId; offered: boolean } | undefined;
  private currentState: MediaSessionState = 'idle';
  /** A party was swapped in this call (rtpengine keeps the old one): re-offers go through the gate. */
  private swapped = false;

  constructor(options: MediaSessionOptions) {
    this.callId = options.callId;
    this.engine = new PinnedEngine(options.pool, options.callId);
    this.policy = resolveMediaPolicy(options.policy);
    this.tags = { caller: options.caller.tag, callee: options.callee.tag ?? `gw-${randomBytes(5).toString('hex')}` };
    if (this.tags.caller === this.tags.callee) throw new Error('caller and callee need different rtpengine tags');
    this.kinds = { caller: options.caller.kind, callee: options.callee.kind };
    this.candidateAllowed = this.policy.candidateNetworks ? addressMatcher(this.policy.candidateNetworks) : undefined;
  }

  get state(): MediaSessionState {
    return this.currentState;
  }

  /** The rtpengine this call is pinned to (after the first offer). */
  get engineId(): string | undefined {
    return this.engine.id;
  }

  get transcoding(): boolean {
    return this.codecPlan?.transcode ?? false;
  }

  legTag(leg: LegId): string {
    return this.tags[leg];
  }

  legKind(leg: LegId): LegKind | undefined {
    return this.kinds[leg];
  }

  get parts(): readonly RtpenginePart[] {
    return [this];
  }

  /** Which leg an rtpengine tag (e.g. a DTMF event's source_tag) belongs to. */
  legForTag(tag: string): LegId | undefined {
    if (tag === this.tags.caller) return 'caller';
    if (tag === this.tags.callee) return 'callee';
    return undefined;
  }

  /**
   * An offer from `fromLeg` (initial INVITE, or a re-INVITE/UPDATE from either side); returns the SDP
   * to send to the other leg. The first offer picks and pins an rtpengine (failing over between
   * engines; NoMediaServerError when none answers).
   */
  async offer(fromLeg: LegId, sdp: string): Promise<string> {
    this.assertUsable();
    const toLeg = otherLeg(fromLeg);
    const fromKind = this.kindOf(fromLeg, sdp);
    const towardKind = this.kindOf(toLeg);
    if (!this.codecPlan) {
      this.codecPlan = codecPlanFor(fromKind, towardKind, offeredAudioCodecs(sdp), this.policy);
      log.debug({ callId: this.callId, plan: this.codecPlan }, 'codec plan');
    }
    const input = this.prepareIncoming(fromKind, sdp);
    const params = {
      ...ngProfileFor({ operation: 'offer', from: fromKind, toward: towardKind, transcode: this.codecPlan.transcode }, this.policy),
      sdp: input,
      'call-id': this.callId,
      'from-tag': this.tags[fromLeg],
      'to-tag': this.knownToEngine.has(toLeg) || this.introducing?.leg === toLeg ? this.tags[toLeg] : undefined,
    };
    // After a swap, a re-offer to the party already there holds the offerer's packets back until
    // the answer (media-gate.ts).
    if (this.swapped && this.currentState === 'established' && this.introducing?.leg !== toLeg) {
      await this.gate.set(fromLeg, { renegotiating: true });
      this.assertUsable(); // the call may have ended meanwhile: an offer now would re-create it
    }
    if (this.introducing?.leg === toLeg) this.introducing.offered = true; // even if the reply is lost

    let reply: NgReply & { sdp?: string };
    if (!this.engine.placed) {
      reply = await this.engine.place((node) => node.client.offer(params)).catch((error: unknown) => {
        this.codecPlan = undefined; // a retried first offer (e.g. after 488) decides afresh
        throw error;
      });
      log.info({ callId: this.callId, rtpengine: this.engine.id, from: fromKind, toward: towardKind }, 'media session created');
    } else {
      reply = await this.engine.run((node) => node.client.offer(params));
    }
    this.knownToEngine.add(fromLeg);
    this.pending = { fromLeg, offerSdp: sdp };
    if (this.currentState === 'idle') this.currentState = 'offered';
    return this.prepareOutgoing(toLeg, towardKind, this.requireSdp(reply, 'offer'));
  }

  /**
   * The answer from `toLeg` to the pending offer (which came from the other leg); returns the SDP for
   * the offerer.
   */
  async answer(toLeg: LegId, sdp: string): Promise<string> {
    this.assertUsable();
    const pending = this.pending;
    if (!pending) throw new Error(`answer from ${toLeg} without a pending offer (call ${this.callId})`);
    if (pending.fromLeg === toLeg) throw new Error(`the ${toLeg} leg cannot answer its own offer (call ${this.callId})`);
    const fromKind = this.kindOf(toLeg, sdp);
    const towardKind = this.kindOf(pending.fromLeg);
    const params = {
      ...ngProfileFor({ operation: 'answer', from: fromKind, toward: towardKind, transcode: this.transcoding }, this.policy),
      sdp: this.prepareIncoming(fromKind, sdp),
      'call-id': this.callId,
      'from-tag': this.tags[pending.fromLeg],
      'to-tag': this.tags[toLeg],
    };
    const reply = await this.engine.run((node) => node.client.answer(params));
    this.knownToEngine.add(toLeg);
    if (this.introducing?.leg === toLeg) this.introducing = undefined;
    this.pending = undefined;
    this.currentState = 'established';
    await this.applyDirections({ [pending.fromLeg]: pending.offerSdp, [toLeg]: sdp } as Record<LegId, string>);
    return this.prepareOutgoing(pending.fromLeg, towardKind, this.requireSdp(reply, 'answer'));
  }

  /**
   * Transfer (RFC 5589 §6, carried out by the B2BUA): the party on `leg` is replaced by a new one,
   * with a new rtpengine tag, in the SAME rtpengine call. The party that stays keeps its rtpengine
   * ports, ICE agent and DTLS association, so a browser there need not redo ICE or DTLS. (Moving
   * it to a new rtpengine call cannot work with Chrome: the new call offers the same certificate
   * fingerprint, so Chrome keeps its DTLS association and never handshakes with the new call.)
   *
   * How rtpengine 10.5 does it (daemon/call.c, call_get_dialogue / call_get_monologue_new): an
   * offer from the staying party whose to-tag is unknown subscribes it to a new monologue, which
   * takes that to-tag; the old party no longer receives the staying party's media. The old party's
   * monologue keeps its ports until the whole call is deleted, and what it still sends reaches the
   * staying party until it stops (it gets a BYE right after). Never delete that monologue by tag:
   * call_delete_branch also stops the staying party's codec handlers. So the next offer toward
   * `leg` names the new tag.
   */
  replaceParty(leg: LegId, kind: LegKind): PartyReplacement {
    this.assertUsable();
    if (this.pending) throw new Error(`an offer is pending (call ${this.callId})`);
    if (!this.engine.placed) throw new Error(`no media session yet for call ${this.callId}`);
    const before = {
      tag: this.tags[leg],
      kind: this.kinds[leg],
      known: this.knownToEngine.has(leg),
      gate: this.gate.reset(leg),
      codecPlan: this.codecPlan,
      origin: this.origins[leg],
    };
    const tag = `gw-${randomBytes(5).toString('hex')}`;
    this.tags[leg] = tag;
    this.kinds[leg] = kind;
    this.knownToEngine.delete(leg);
    this.codecPlan = undefined; // decided afresh for the new pair of kinds
    this.origins[leg] = new SdpOrigin(); // a new dialog: a new SDP session
    this.introducing = { leg, offered: false };
    this.swapped = true;
    log.info({ callId: this.callId, leg, oldTag: before.tag, newTag: tag, kind }, 'replacing the party on a leg');
    return {
      tag,
      revert: async (lastSdp) => {
        if (this.currentState === 'deleted' || this.tags[leg] !== tag) return;
        // Once an offer named the new tag, rtpengine has moved the staying party to it.
        const engineMoved = this.introducing?.leg !== leg || this.introducing.offered;
        this.pending = undefined;
        this.introducing = undefined;
        this.tags[leg] = before.tag;
        this.kinds[leg] = before.kind;
        if (before.known) this.knownToEngine.add(leg);
        this.gate.restore(leg, before.gate);
        this.codecPlan = before.codecPlan;
        this.origins[leg] = before.origin;
        log.info({ callId: this.callId, leg, tag: before.tag }, 'party replacement reverted');
        if (!engineMoved) return;
        try {
          await this.offer(otherLeg(leg), lastSdp[otherLeg(leg)]);
          await this.answer(leg, lastSdp[leg]);
        } catch (error) {
          await this.abandonPendingOffer(); // the staying party's media must not stay held back
          throw error;
        }
      },
    };
  }

  /** Legs whose media rtpengine is dropping (the other leg does not want it, or a re-offer is pending). */
  get blockedLegs(): LegId[] {
    return this.gate.blockedLegs;
  }

  /**
   * After every answer. The offerer's packets flow again, and with enforceDirection media from leg
   * Y to leg X flows only when Y sends and X receives (per their own SDP in the exchange just
   * completed); otherwise Y's packets are blocked. So a resume always unblocks.
   */
  private async applyDirections(sdpByLeg: Record<LegId, string>): Promise<void> {
    const intents = this.policy.enforceDirection ? { caller: audioIntent(sdpByLeg.caller), callee: audioIntent(sdpByLeg.callee) } : undefined;
    for (const sender of ['caller', 'callee'] as const) {
      const direction = intents ? !(intents[sender].sends && intents[otherLeg(sender)].receives) : false;
      if (await this.gate.set(sender, { renegotiating: false, direction })) {
        log.debug({ callId: this.callId, leg: sender, blocked: direction }, 'media direction enforced');
      }
    }
  }

  private async sendBlock(leg: LegId, block: boolean): Promise<void> {
    const params = { 'call-id': this.callId, 'from-tag': this.tags[leg] };
    await this.engine.run((node) => (block ? node.client.blockMedia(params) : node.client.unblockMedia(params)));
  }

  /**
   * Forget a pending offer that the far end rejected (e.g. 488 to a re-INVITE), and let the
   * offerer's media flow again. rtpengine keeps what the offer set up; the next offer/answer
   * overrides it. Never throws.
   */
  async abandonPendingOffer(): Promise<void> {
    this.pending = undefined;
    if (this.currentState === 'deleted') return;
    for (const leg of ['caller', 'callee'] as const) {
      // Also when no offer is pending: an unblock that failed after an answer is tried again here.
      await this.gate.set(leg, { renegotiating: false }).catch((err: unknown) => {
        log.warn({ callId: this.callId, leg, err: (err as Error).message }, 'could not unblock media after an abandoned offer');
      });
    }
  }

  /** Plays an RFC 4733 digit as if `fromLeg` had sent it: the packets go to the other leg (SIP INFO -> 4733). */
  async playDtmf(fromLeg: LegId, digit: string, options: PlayDtmfOptions = {}): Promise<void> {
    this.assertUsable();
    if (!DIGITS.test(digit)) throw new Error(`not a DTMF digit: '${digit}'`);
    await this.engine.run((node) =>
      node.client.playDTMF({
        'call-id': this.callId,
        'from-tag': this.tags[fromLeg],
        code: digit.toUpperCase(),
        duration: options.durationMs ?? 250,
        volume: options.volume ?? 10,
        pause: options.pauseMs,
      }),
    );
  }

  /** rtpengine's view of the call (per-tag streams, learned endpoints, packet counters). */
  async query(): Promise<NgQueryReply> {
    return this.engine.run((node) => node.client.query({ 'call-id': this.callId }));
  }

  /**
   * Deletes the call in rtpengine and releases it from the pool. Idempotent: later calls return the
   * first call's result. Never throws: a dead engine took the call with it.
   */
  delete(): Promise<NgQueryReply | undefined> {
    this.currentState = 'deleted';
    this.pending = undefined;
    return this.engine.delete();
  }

  private assertUsable(): void {
    if (this.currentState === 'deleted') throw new Error(`media session for call ${this.callId} was deleted`);
  }

  private kindOf(leg: LegId, sdp?: string): LegKind {
    const known = this.kinds[leg];
    if (known) {
      if (sdp && detectLegKind(sdp) !== known) {
        log.warn({ callId: this.callId, leg, configured: known, detected: detectLegKind(sdp) }, 'leg SDP does not look like its configured kind');
      }
      return known;
    }
    if (!sdp) throw new Error(`kind of the ${leg} leg is unknown (call ${this.callId})`);
    const detected = detectLegKind(sdp);
    this.kinds[leg] = detected;
    return detected;
  }

  /** SDP from a leg, before rtpengine: candidate filter and codec removal apply to browser SDP only. */
  private prepareIncoming(kind: LegKind, sdp: string): string {
    if (kind !== 'webrtc') return sdp;
    let result = sdp;
    if (this.candidateAllowed) {
      const filtered = filterCandidates(result, this.candidateAllowed);
      if (filtered.dropped) log.debug({ callId: this.callId, dropped: filtered.dropped }, 'dropped ICE candidates outside candidateNetworks');
      result = filtered.sdp;
    }
    const remove = this.codecPlan?.removeFromWebrtcSdp ?? [];
    return remove.length ? removeCodecs(result, remove) : result;
  }

  /**
   * SDP from rtpengine, before a leg: SIP phones get no browser stream identities; browsers get no
   * a=ssrc (rtpengine's SSRC toward them need not be the one the other side announced).
   */
  private prepareOutgoing(leg: LegId, kind: LegKind, sdp: string): string {
    return this.origins[leg].apply(kind === 'legacy' ? stripBrowserAttributes(sdp) : stripSsrcAttributes(sdp));
  }

  private requireSdp(reply: NgReply & { sdp?: string }, command: string): string {
    if (typeof reply.sdp !== 'string') throw new Error(`rtpengine '${command}' reply has no SDP (call ${this.callId})`);
    return reply.sdp;
  }
}
