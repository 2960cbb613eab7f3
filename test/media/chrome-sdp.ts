/**
 * Browser SDP for media tests. CHROME_OFFER is a real capture: Chromium 156 (playwright-core, fake
 * microphone, --allow-loopback-in-peer-connection) in a network namespace with only `lo`, after ICE
 * gathering completed (recipes §3/§4). The other SDPs are derived from it as noted.
 */
import * as sdpTransform from 'sdp-transform';

const CRLF = '\r\n';

const CAPTURED_LINES = [
  'v=0',
  'o=- 4473969353669422800 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0',
  'a=extmap-allow-mixed',
  'a=msid-semantic: WMS 0dfe50d9-8035-4f5b-b358-6b5d2bd54a73',
  'm=audio 32952 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126',
  'c=IN IP4 127.0.0.1',
  'a=rtcp:9 IN IP4 0.0.0.0',
  'a=candidate:861650958 1 udp 2122260223 127.0.0.1 32952 typ host generation 0 network-id 1 network-cost 50',
  'a=candidate:3455128730 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active generation 0 network-id 1 network-cost 50',
  'a=ice-ufrag:0y0z',
  'a=ice-pwd:lWARpjODozzr724pFKe+fZQr',
  'a=ice-options:trickle',
  'a=fingerprint:sha-256 8D:E9:89:B8:53:53:93:1D:A1:4C:91:74:B1:2E:A1:7C:E2:20:82:AB:1C:BF:A3:0D:97:7F:F7:3B:FB:26:94:FC',
  'a=setup:actpass',
  'a=mid:0',
  'a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level',
  'a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
  'a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
  'a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid',
  'a=sendrecv',
  'a=msid:0dfe50d9-8035-4f5b-b358-6b5d2bd54a73 03468c29-5646-48b4-9e4e-28830e589f2e',
  'a=rtcp-mux',
  'a=rtcp-rsize',
  'a=rtcp-xr:rcvr-rtt=all',
  'a=rtpmap:111 opus/48000/2',
  'a=rtcp-fb:111 transport-cc',
  'a=fmtp:111 minptime=10;useinbandfec=1',
  'a=rtpmap:63 red/48000/2',
  'a=fmtp:63 111/111',
  'a=rtpmap:9 G722/8000',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:13 CN/8000',
  'a=rtpmap:110 telephone-event/48000',
  'a=rtpmap:126 telephone-event/8000',
  'a=ssrc:1945784806 cname:1XgePOqfUOpvH8QB',
  'a=ssrc:1945784806 msid:0dfe50d9-8035-4f5b-b358-6b5d2bd54a73 03468c29-5646-48b4-9e4e-28830e589f2e',
];

/** Chrome's default offer: opus first, G.711 available (pass-through possible). */
export const CHROME_OFFER = [...CAPTURED_LINES, ''].join(CRLF);

function withoutPayloads(sdp: string, doomed: number[]): string {
  const drop = new Set(doomed.map(String));
  return sdp
    .split(CRLF)
    .filter((line) => {
      const attribute = /^a=(?:rtpmap|fmtp|rtcp-fb):(\d+) /.exec(line);
      return !(attribute && drop.has(attribute[1]!));
    })
    .map((line) => (line.startsWith('m=audio ') ? line.split(' ').filter((token, i) => i < 3 || !drop.has(token)).join(' ') : line))
    .join(CRLF);
}

/** The same browser after setCodecPreferences([opus, telephone-event]): no G.711, so rtpengine must transcode. */
export const CHROME_OFFER_OPUS_ONLY = withoutPayloads(CHROME_OFFER, [63, 9, 0, 8, 13]);

/** The captured offer plus the eth0 host candidate Chrome adds outside a namespace (192.0.2.2, recipes §4). */
export const CHROME_OFFER_WITH_FOREIGN_CANDIDATE = CHROME_OFFER.replace(
  /(a=candidate:861650958 [^\r]+\r\n)/,
  '$1a=candidate:2999745851 1 udp 2122194687 192.0.2.2 40311 typ host generation 0 network-id 2\r\n',
);

/**
 * What Chrome answers to an offer rtpengine made toward it: the first offered codec named `codec`
 * plus telephone-event at the same clock rate, the offer's mid, rtcp-mux, setup:active (Chrome
 * always answers active), its own ICE credentials and fingerprint, a host candidate on 127.0.0.1.
 */
export function chromeAnswerTo(offer: string, codec: 'opus' | 'PCMU', direction = 'sendrecv'): string {
  const media = sdpTransform.parse(offer).media.find((m) => m.type === 'audio');
  if (!media) throw new Error('offer has no audio');
  const chosen = media.rtp.find((rtp) => rtp.codec === codec);
  if (!chosen) throw new Error(`offer has no ${codec}: ${media.payloads}`);
  const te = media.rtp.find((rtp) => rtp.codec === 'telephone-event' && rtp.rate === chosen.rate);
  const payloads = [chosen, ...(te ? [te] : [])];
  return [
    'v=0',
    'o=- 2841460417405393127 2 IN IP4 127.0.0.1',
    's=-',
    't=0 0',
    `a=group:BUNDLE ${media.mid ?? '0'}`,
    'a=msid-semantic: WMS 7d5f0c7e-1c3a-4a7b-9d37-2b8f6f0e7c11',
    `m=audio 50930 UDP/TLS/RTP/SAVPF ${payloads.map((p) => p.payload).join(' ')}`,
    'c=IN IP4 127.0.0.1',
    'a=rtcp:9 IN IP4 0.0.0.0',
    'a=candidate:1467250027 1 udp 2122260223 127.0.0.1 50930 typ host generation 0 network-id 1',
    'a=ice-ufrag:Qx9a',
    'a=ice-pwd:Tq8bWm1nHc5Jk2LpR7sVx0Zd',
    'a=ice-options:trickle',
    'a=fingerprint:sha-256 4E:1A:95:2B:8D:D3:21:1B:56:19:FE:9E:41:A3:63:5C:74:36:3C:1C:49:09:0F:AE:3C:0F:77:9E:8B:49:1C:3E',
    'a=setup:active',
    `a=mid:${media.mid ?? '0'}`,
    `a=${direction}`,
    'a=msid:7d5f0c7e-1c3a-4a7b-9d37-2b8f6f0e7c11 5c2f41e4-9a0f-4b8e-a3c5-61a2f0b1d2e3',
    'a=rtcp-mux',
    ...payloads.map((p) => `a=rtpmap:${p.payload} ${p.codec}/${p.rate}${p.encoding ? `/${p.encoding}` : ''}`),
    'a=ssrc:2864434397 cname:k3Hc2nKkUZ8Lr7Jw',
    '',
  ].join(CRLF);
}

/** A browser re-offer (hold/resume) built from its first offer: new o= version, given direction. */
export function chromeReoffer(offer: string, direction: 'sendrecv' | 'sendonly' | 'inactive', version: number): string {
  return offer.replace(/^o=- (\d+) 2 /m, `o=- $1 ${version} `).replace('\r\na=sendrecv\r\n', `\r\na=${direction}\r\n`);
}
