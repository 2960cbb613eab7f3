/**
 * SDP inspection and the few rewrites the gateway does itself, around rtpengine (sdp-transform):
 *  - which kind of leg produced an SDP (WebRTC: UDP/TLS/RTP/SAVPF plus a DTLS fingerprint);
 *  - the codecs an SDP offers, by name;
 *  - removing codecs from a browser offer before rtpengine sees it (the only reliable way to make
 *    rtpengine 10.5 transcode when the browser also offered G.711 — recipes §1 gotchas);
 *  - removing a=ssrc / a=ssrc-group / a=msid / a=msid-semantic / a=extmap-allow-mixed toward SIP
 *    (rtpengine passes them through, and its `sdp-attr` remove did nothing in 10.5);
 *  - dropping ICE candidates outside configured networks (defence in depth, only when configured).
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import * as sdpTransform from 'sdp-transform';
import type { MediaDescription, SessionDescription } from 'sdp-transform';

export type LegKind = 'webrtc' | 'legacy';

/** Static payload types that may appear without an a=rtpmap line (RFC 3551). */
const STATIC_PAYLOAD_NAMES: Readonly<Record<number, string>> = {
  0: 'PCMU',
  3: 'GSM',
  4: 'G723',
  8: 'PCMA',
  9: 'G722',
  13: 'CN',
  18: 'G729',
};

/** Codecs a browser decodes without help (WebRTC mandates opus and G.711; Chrome adds G722). */
export const BROWSER_AUDIO_CODECS: readonly string[] = ['opus', 'G722', 'PCMU', 'PCMA'];

/** Not audio codecs: never count them when deciding whether two sides share a codec. */
const NON_AUDIO_CODECS = new Set(['telephone-event', 'CN', 'red', 'rtx', 'ulpfec', 'flexfec-03']);

function parse(sdp: string): SessionDescription {
  return sdpTransform.parse(sdp);
}

/** sdp-transform writes LF-free CRLF lines; keep a trailing CRLF as SIP bodies expect. */
function write(session: SessionDescription): string {
  const text = sdpTransform.write(session);
  return text.endsWith('\r\n') ? text : `${text}\r\n`;
}

function audioSections(session: SessionDescription): MediaDescription[] {
  return session.media.filter((media) => media.type === 'audio');
}

function payloadList(media: MediaDescription): number[] {
  return String(media.payloads ?? '')
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
    .filter((pt) => Number.isInteger(pt));
}

function codecNameOf(media: MediaDescription, pt: number): string | undefined {
  return media.rtp.find((rtp) => rtp.payload === pt)?.codec ?? STATIC_PAYLOAD_NAMES[pt];
}

/** webrtc when an audio section uses a DTLS-SRTP profile (…/TLS/RTP/SAVPF) with a fingerprint at media or session level. */
export function detectLegKind(sdp: string): LegKind {
  const session = parse(sdp);
  const sessionFingerprint = Boolean(session.fingerprint);
  const webrtc = session.media.some(
    (media) => /TLS\/RTP\/SAVPF/i.test(media.protocol) && (sessionFingerprint || Boolean(media.fingerprint)),
  );
  return webrtc ? 'webrtc' : 'legacy';
}

/** Codec names of the first audio section, in offer order, without duplicates (e.g. both telephone-events). */
export function offeredAudioCodecs(sdp: string): string[] {
  const media = audioSections(parse(sdp))[0];
  if (!media) return [];
  const names: string[] = [];
  for (const pt of payloadList(media)) {
    const name = codecNameOf(media, pt);
    if (name && !names.some((known) => known.toLowerCase() === name.toLowerCase())) names.push(name);
  }
  return names;
}

/** True when `sdp` offers at least one real audio codec (not DTMF/CN/FEC) from `candidates`. */
export function offersAnyCodec(sdp: string, candidates: readonly string[]): boolean {
  const wanted = new Set(candidates.map((name) => name.toLowerCase()));
  return offeredAudioCodecs(sdp).some((name) => !NON_AUDIO_CODECS.has(name) && wanted.has(name.toLowerCase()));
}

/**
 * Removes the named codecs (case-insensitive) from every audio section, with their rtpmap, fmtp and
 * rtcp-fb lines and any `red` that referenced them. Returns the SDP unchanged when that would leave
 * a section without a real audio codec.
 */
export function removeCodecs(sdp: string, names: readonly string[]): string {
  const session = parse(sdp);
  const doomed = new Set(names.map((name) => name.toLowerCase()));
  for (const media of audioSections(session)) {
    const keep = payloadList(media).filter((pt) => !doomed.has((codecNameOf(media, pt) ?? '').toLowerCase()));
    const realLeft = keep.some((pt) => !NON_AUDIO_CODECS.has(codecNameOf(media, pt) ?? ''));
    if (!realLeft) return sdp;
    const kept = new Set(keep);
    media.payloads = keep.join(' ');
    media.rtp = media.rtp.filter((rtp) => kept.has(rtp.payload));
    media.fmtp = media.fmtp.filter((fmtp) => kept.has(fmtp.payload));
    if (media.rtcpFb) media.rtcpFb = media.rtcpFb.filter((fb) => fb.payload === '*' || kept.has(Number(fb.payload)));
  }
  return write(session);
}

/**
 * Removes what only browsers use and SIP phones may choke on: a=ssrc, a=ssrc-group, a=msid (media),
 * a=msid-semantic and a=extmap-allow-mixed (session).
 */
export function stripBrowserAttributes(sdp: string): string {
  // Most SDP toward a SIP phone has none of them: skip the parse and write (twice per call).
  if (!/^a=(ssrc|msid|extmap-allow-mixed)/m.test(sdp)) return sdp;
  const session = parse(sdp) as SessionDescription & { extmapAllowMixed?: unknown };
  delete session.msidSemantic;
  delete session.extmapAllowMixed;
  for (const media of session.media) {
    const withMixed = media as MediaDescription & { extmapAllowMixed?: unknown };
    delete media.ssrcs;
    delete media.ssrcGroups;
    delete media.msid;
    delete withMixed.extmapAllowMixed;
  }
  return write(session);
}

/**
 * Removes a=ssrc and a=ssrc-group (the SSRCs of whoever produced the SDP) for SDP rtpengine hands
 * to a browser. rtpengine passes them through but sends its own SSRC whenever its codec handler
 * is in the path (10.5 puts it there for browser-to-browser calls, with or without inject DTMF:
 * "Created transcode context for opus/48000/2 -> opus/48000/2", "new SSRC"). A browser told the
 * far browser's SSRC binds its track to a stream that never arrives: the packets are counted, the
 * track plays silence (test/e2e case c). Without a=ssrc, Chrome maps the SSRC to the m-line by MID.
 */
export function stripSsrcAttributes(sdp: string): string {
  if (!/^a=ssrc/m.test(sdp)) return sdp;
  const session = parse(sdp);
  let changed = false;
  for (const media of session.media) {
    if (media.ssrcs || media.ssrcGroups) changed = true;
    delete media.ssrcs;
    delete media.ssrcGroups;
  }
  return changed ? write(session) : sdp;
}

/** A matcher for addresses in the given CIDRs (or single addresses), IPv4 and IPv6. */
export function addressMatcher(cidrs: readonly string[]): (address: string) => boolean {
  const list = new BlockList();
  for (const entry of cidrs) {
    const [address, prefix] = entry.split('/');
    if (!address) continue;
    const type = isIPv6(address) ? 'ipv6' : 'ipv4';
    if (!isIPv4(address) && !isIPv6(address)) throw new Error(`not an IP network: '${entry}'`);
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(prefix), type);
  }
  return (address) => {
    if (isIPv4(address)) return list.check(address, 'ipv4');
    if (isIPv6(address)) return list.check(address, 'ipv6');
    return false; // mDNS (.local) or garbage: rtpengine cannot use it anyway
  };
}

/** Keeps only ICE candidates whose address `allowed` accepts. Returns the count dropped with the SDP. */
export function filterCandidates(sdp: string, allowed: (address: string) => boolean): { sdp: string; dropped: number } {
  const session = parse(sdp);
  let dropped = 0;
  for (const media of session.media) {
    if (!media.candidates) continue;
    const before = media.candidates.length;
    media.candidates = media.candidates.filter((candidate) => allowed(candidate.ip));
    dropped += before - media.candidates.length;
  }
  return dropped === 0 ? { sdp, dropped } : { sdp: write(session), dropped };
}

export type MediaDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

/** Direction of the first audio section (media level, else session level, else sendrecv). */
export function audioDirection(sdp: string): MediaDirection {
  return directionOf(parse(sdp));
}

function directionOf(session: SessionDescription): MediaDirection {
  const media = audioSections(session)[0];
  return (media?.direction ?? (session as { direction?: MediaDirection }).direction ?? 'sendrecv') as MediaDirection;
}

/**
 * What a leg's own SDP says about its audio: whether it wants to send and to receive. A zero
 * connection address (RFC 2543 hold) or port 0 (rejected stream) means it receives nothing.
 */
export function audioIntent(sdp: string): { sends: boolean; receives: boolean } {
  const session = parse(sdp);
  const media = audioSections(session)[0];
  if (!media || media.port === 0) return { sends: false, receives: false };
  const direction = directionOf(session);
  const address = media.connection?.ip ?? session.connection?.ip;
  const zeroAddress = address === '0.0.0.0' || address === '::';
  return {
    sends: direction === 'sendrecv' || direction === 'sendonly',
    receives: !zeroAddress && (direction === 'sendrecv' || direction === 'recvonly'),
  };
}

/**
 * The same SDP with every audio section's direction set to sendrecv (session-level direction
 * dropped). A transfer resumes the call: the staying party's last SDP may still say it is held
 * (recvonly/inactive), and offering that to the new party would leave the new call one-way.
 */
export function resumedAudio(sdp: string): string {
  const session = parse(sdp) as SessionDescription & { direction?: MediaDirection };
  const sections = audioSections(session);
  if (sections.every((m) => (m.direction ?? 'sendrecv') === 'sendrecv') && !session.direction) return sdp;
  delete session.direction;
  for (const media of sections) media.direction = 'sendrecv';
  return write(session);
}

export interface AudioEndpoint {
  address: string;
  port: number;
  /** Payload type of telephone-event/8000, when offered. */
  telephoneEventPt?: number;
  payloadTypes: number[];
}

/** Where the first audio section wants RTP (media-level c= over session-level c=). */
export function audioEndpoint(sdp: string): AudioEndpoint {
  const session = parse(sdp);
  const media = audioSections(session)[0];
  if (!media) throw new Error('SDP has no audio section');
  const address = media.connection?.ip ?? session.connection?.ip;
  if (!address) throw new Error('SDP has no connection address');
  const te = media.rtp.find((rtp) => rtp.codec.toLowerCase() === 'telephone-event' && rtp.rate === 8000);
  return { address, port: media.port, telephoneEventPt: te?.payload, payloadTypes: payloadList(media) };
}
