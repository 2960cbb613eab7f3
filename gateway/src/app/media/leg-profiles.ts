/**
 * The rtpengine flag sets per leg kind, as verified on this machine (recipes §1) and checked against
 * rtpengine 10.5's source. The flags of an offer/answer describe the SDP rtpengine hands OUT, so they
 * follow the kind of the leg that will receive it ("toward"):
 *
 *   toward legacy: ICE=remove, DTLS=off, SDES off, RTP/AVP, rtcp-mux demux, strip extmap
 *   toward webrtc: ICE=force, SDES off, UDP/TLS/RTP/SAVPF, rtcp-mux offer+require (answer: require),
 *                  generate mid
 *   always:        replace origin + session-connection, strict source, inject DTMF (unless disabled)
 *
 * DTLS role (why it cannot deadlock): the DTLS key is never sent toward a browser.
 *  - rtpengine offers toward a browser always say a=setup:actpass (daemon/call.c __generate_crypto:
 *    "we always must offer actpass"); Chrome answers active, rtpengine takes the server role.
 *  - answers toward a browser say a=setup:active and rtpengine IS the client — unless the daemon runs
 *    with --dtls-passive, then they say passive and it is the server. Both verified to connect.
 *    What deadlocks is DTLS=passive in that answer WITHOUT --dtls-passive (10.5 declares passive but
 *    still sends a ClientHello; Chrome is a client too): so we never send it.
 *  - re-offers from a browser: rtpengine keeps a passive role it already had (__dtls_logic), and a
 *    Chrome re-answer keeps its role, so hold/resume does not flip roles (rtpengine#2156).
 *
 * Codecs (only between a browser and a legacy leg):
 *  - passthrough (default): G.711 end to end when the browser offers it; the legacy side sees only the
 *    configured legacy codecs plus telephone-event. When the two sides share no codec, rtpengine
 *    transcodes (mask everything, transcode to the legacy codecs / to opus).
 *  - opus-on-webrtc: the browser leg always carries opus. Browser offers lose their legacy codecs
 *    before rtpengine sees them (rtpengine prefers pass-through otherwise), offers toward a browser
 *    mask the legacy codecs and add opus.
 */
import type { NgCodecOptions, NgSdpParams } from './ng-types';
import type { LegKind } from './sdp-policy';

export type CodecPolicy = 'passthrough' | 'opus-on-webrtc';

export interface MediaPolicy {
  codecPolicy: CodecPolicy;
  /** Codecs a legacy (SIP/RTP) leg is assumed to support, in preference order. */
  legacyCodecs: string[];
  /** `inject DTMF` in every offer/answer, so play DTMF works (routes audio through the codec handler). */
  injectDtmf: boolean;
  /** `strict source`: drop packets from anyone but the learned endpoint (RTP bleed). */
  strictSource: boolean;
  /**
   * rtpengine forwards media whatever a=sendonly/inactive/c=0.0.0.0 say. With this on, after every
   * completed offer/answer the session blocks (`block media`) the packets of a leg whose peer does
   * not want to receive, and unblocks them on resume. DTMF events still pass.
   */
  enforceDirection: boolean;
  /**
   * When set, ICE candidates from browser SDP outside these networks (CIDR) are dropped before
   * rtpengine sees them. Off by default: only for deployments that know their media networks.
   */
  candidateNetworks?: string[];
}

export const DEFAULT_MEDIA_POLICY: Readonly<MediaPolicy> = Object.freeze({
  codecPolicy: 'passthrough',
  legacyCodecs: ['PCMU', 'PCMA'],
  injectDtmf: true,
  strictSource: true,
  enforceDirection: true,
});

export function resolveMediaPolicy(overrides: Partial<MediaPolicy> = {}): MediaPolicy {
  const policy: MediaPolicy = { ...DEFAULT_MEDIA_POLICY, legacyCodecs: [...DEFAULT_MEDIA_POLICY.legacyCodecs] };
  for (const [key, value] of Object.entries(overrides)) {
    if (value !== undefined) (policy as unknown as Record<string, unknown>)[key] = value;
  }
  return policy;
}

/** One offer or answer, seen from rtpengine. */
export interface NgStep {
  operation: 'offer' | 'answer';
  /** Kind of the leg that produced the SDP given to rtpengine. */
  from: LegKind;
  /** Kind of the leg that will receive rtpengine's SDP. */
  toward: LegKind;
  /** Codec handling decided for this call (see codecPlanFor). */
  transcode: boolean;
}

/** The ng keys (without sdp, call-id and tags) for one step. */
export type NgProfile = Omit<NgSdpParams, 'sdp' | 'call-id' | 'from-tag' | 'to-tag'>;

function commonFlags(policy: MediaPolicy): string[] {
  const flags: string[] = [];
  if (policy.strictSource) flags.push('strict source');
  if (policy.injectDtmf) flags.push('inject DTMF');
  return flags;
}

function towardLegacy(step: NgStep, policy: MediaPolicy): NgProfile {
  const profile: NgProfile = {
    ICE: 'remove',
    DTLS: 'off',
    SDES: ['off'],
    'transport-protocol': 'RTP/AVP',
    'rtcp-mux': ['demux'],
    replace: ['origin', 'session-connection'],
    flags: ['strip extmap', ...commonFlags(policy)],
  };
  if (step.operation === 'offer' && step.from === 'webrtc') profile.codec = legacyCodecFilter(step.transcode, policy);
  return profile;
}

function towardWebrtc(step: NgStep, policy: MediaPolicy): NgProfile {
  const profile: NgProfile = {
    ICE: 'force',
    SDES: ['off'],
    'transport-protocol': 'UDP/TLS/RTP/SAVPF',
    'rtcp-mux': step.operation === 'offer' ? ['offer', 'require'] : ['require'],
    replace: ['origin', 'session-connection'],
    flags: ['generate mid', ...commonFlags(policy)],
  };
  if (step.operation === 'offer' && step.from === 'legacy' && step.transcode) {
    profile.codec = { mask: [...policy.legacyCodecs], transcode: ['opus'] };
  }
  return profile;
}

/**
 * Browser offer toward a legacy leg. Pass-through keeps only the legacy codecs and telephone-event;
 * transcoding masks everything the browser offered and adds the legacy codecs (telephone-event is
 * restored from the offer, so RFC 4733 keeps working).
 */
function legacyCodecFilter(transcode: boolean, policy: MediaPolicy): NgCodecOptions {
  if (transcode) return { mask: ['all'], transcode: [...policy.legacyCodecs, 'telephone-event'] };
  return { strip: ['all'], except: [...policy.legacyCodecs, 'telephone-event'] };
}

export function ngProfileFor(step: NgStep, policy: MediaPolicy): NgProfile {
  return step.toward === 'legacy' ? towardLegacy(step, policy) : towardWebrtc(step, policy);
}

/** Codec decision for a browser<->legacy call, made on the first offer and kept for re-offers. */
export interface CodecPlan {
  transcode: boolean;
  /** Codecs to cut from SDP coming from the browser before rtpengine sees it. */
  removeFromWebrtcSdp: string[];
  reason: string;
}

export function codecPlanFor(
  offerer: LegKind,
  answerer: LegKind,
  offeredCodecs: readonly string[],
  policy: MediaPolicy,
): CodecPlan {
  if (offerer === answerer) return { transcode: false, removeFromWebrtcSdp: [], reason: `${offerer} to ${offerer}: no codec changes` };
  const has = (names: readonly string[]): boolean =>
    offeredCodecs.some((codec) => names.some((name) => name.toLowerCase() === codec.toLowerCase()));
  if (policy.codecPolicy === 'opus-on-webrtc') {
    if (offerer === 'webrtc' && !has(['opus'])) {
      return { transcode: !has(policy.legacyCodecs), removeFromWebrtcSdp: [], reason: 'browser offered no opus: opus-on-webrtc not possible' };
    }
    return { transcode: true, removeFromWebrtcSdp: [...policy.legacyCodecs], reason: 'policy opus-on-webrtc' };
  }
  if (offerer === 'webrtc') {
    return has(policy.legacyCodecs)
      ? { transcode: false, removeFromWebrtcSdp: [], reason: 'browser offered a legacy codec: pass-through' }
      : { transcode: true, removeFromWebrtcSdp: [], reason: 'browser offered no legacy codec: transcoding' };
  }
  return has(['opus', 'G722', 'PCMU', 'PCMA'])
    ? { transcode: false, removeFromWebrtcSdp: [], reason: 'legacy offer has a browser codec: pass-through' }
    : { transcode: true, removeFromWebrtcSdp: [], reason: 'legacy offer has no browser codec: transcoding to opus' };
}
