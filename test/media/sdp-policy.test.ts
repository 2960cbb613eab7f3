/**
 * SDP helpers, flag sets and DTMF datagram parsing, without rtpengine.
 */
import { describe, expect, it } from 'vitest';
import { CHROME_OFFER, CHROME_OFFER_OPUS_ONLY, CHROME_OFFER_WITH_FOREIGN_CANDIDATE } from './chrome-sdp';
import { RtpPhone } from './rtp-phone';
import {
  addressMatcher,
  audioIntent,
  detectLegKind,
  filterCandidates,
  offeredAudioCodecs,
  offersAnyCodec,
  removeCodecs,
  stripBrowserAttributes,
  stripSsrcAttributes,
} from '../../gateway/src/app/media/sdp-policy';
import { codecPlanFor, ngProfileFor, resolveMediaPolicy } from '../../gateway/src/app/media/leg-profiles';
import { parseDtmfDatagram } from '../../gateway/src/app/media/dtmf-events';

const PHONE_SDP = ['v=0', 'o=p 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 40000 RTP/AVP 0 8 101', 'a=rtpmap:101 telephone-event/8000', 'a=sendrecv', ''].join('\r\n');

describe('sdp policy', () => {
  it('detects the leg kind from the SDP', () => {
    expect(detectLegKind(CHROME_OFFER)).toBe('webrtc');
    expect(detectLegKind(PHONE_SDP)).toBe('legacy');
    // SAVPF without a fingerprint (SDES) is not a browser
    expect(detectLegKind(PHONE_SDP.replace('RTP/AVP', 'RTP/SAVP'))).toBe('legacy');
  });

  it('lists offered codecs, including static payloads without rtpmap', () => {
    expect(offeredAudioCodecs(CHROME_OFFER)).toEqual(['opus', 'red', 'G722', 'PCMU', 'PCMA', 'CN', 'telephone-event']);
    expect(offeredAudioCodecs(PHONE_SDP)).toEqual(['PCMU', 'PCMA', 'telephone-event']);
    expect(offersAnyCodec(CHROME_OFFER_OPUS_ONLY, ['PCMU', 'PCMA'])).toBe(false);
    expect(offersAnyCodec(CHROME_OFFER_OPUS_ONLY, ['telephone-event'])).toBe(false); // not an audio codec
  });

  it('removes codecs with their attributes, but never the last real codec', () => {
    const cut = removeCodecs(CHROME_OFFER, ['PCMU', 'PCMA']);
    expect(offeredAudioCodecs(cut)).toEqual(['opus', 'red', 'G722', 'CN', 'telephone-event']);
    expect(cut).not.toMatch(/a=rtpmap:(0|8) /);
    expect(cut).toMatch(/^m=audio 32952 UDP\/TLS\/RTP\/SAVPF 111 63 9 13 110 126\r$/m);
    expect(removeCodecs(CHROME_OFFER_OPUS_ONLY, ['opus'])).toBe(CHROME_OFFER_OPUS_ONLY);
  });

  it('strips browser stream identities and keeps the rest', () => {
    const stripped = stripBrowserAttributes(CHROME_OFFER);
    expect(stripped).not.toMatch(/^a=(ssrc|ssrc-group|msid|msid-semantic|extmap-allow-mixed)\b/m);
    expect(stripped).toMatch(/^a=rtpmap:111 opus\/48000\/2\r$/m);
    expect(stripped).toMatch(/^a=ice-ufrag:/m);
    // SDP that has none of them (a SIP phone's) comes back as it was, not re-serialised.
    const phone = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n';
    expect(stripBrowserAttributes(phone)).toBe(phone);
    expect(stripSsrcAttributes(phone)).toBe(phone);
  });

  it('filters candidates by network', () => {
    const loopbackOnly = addressMatcher(['127.0.0.0/8', '::1']);
    const { sdp, dropped } = filterCandidates(CHROME_OFFER_WITH_FOREIGN_CANDIDATE, loopbackOnly);
    expect(dropped).toBe(1);
    expect(sdp).not.toContain('192.0.2.2');
    expect(sdp).toContain('127.0.0.1 32952 typ host');
    expect(filterCandidates(CHROME_OFFER, loopbackOnly).sdp).toBe(CHROME_OFFER);
    expect(loopbackOnly('::1')).toBe(true);
    expect(loopbackOnly('abc.local')).toBe(false);
  });

  it('reads what a leg wants from its direction, zero address and port', async () => {
    const phone = await RtpPhone.open('intent');
    try {
      expect(audioIntent(phone.sdp())).toEqual({ sends: true, receives: true });
      expect(audioIntent(phone.sdp({ direction: 'sendonly' }))).toEqual({ sends: true, receives: false });
      expect(audioIntent(phone.sdp({ direction: 'recvonly' }))).toEqual({ sends: false, receives: true });
      expect(audioIntent(phone.sdp({ direction: 'inactive' }))).toEqual({ sends: false, receives: false });
      expect(audioIntent(phone.sdp().replace('c=IN IP4 127.0.0.1', 'c=IN IP4 0.0.0.0'))).toEqual({ sends: true, receives: false });
    } finally {
      phone.close();
    }
  });
});

describe('leg profiles', () => {
  const policy = resolveMediaPolicy();

  it('never sends a DTLS key toward a browser, and turns DTLS off toward SIP', () => {
    for (const operation of ['offer', 'answer'] as const) {
      for (const from of ['webrtc', 'legacy'] as const) {
        expect(ngProfileFor({ operation, from, toward: 'webrtc', transcode: false }, policy).DTLS).toBeUndefined();
        expect(ngProfileFor({ operation, from, toward: 'legacy', transcode: false }, policy).DTLS).toBe('off');
      }
    }
  });

  it('has the verified flag sets per direction', () => {
    expect(ngProfileFor({ operation: 'offer', from: 'webrtc', toward: 'legacy', transcode: false }, policy)).toEqual({
      ICE: 'remove',
      DTLS: 'off',
      SDES: ['off'],
      'transport-protocol': 'RTP/AVP',
      'rtcp-mux': ['demux'],
      replace: ['origin', 'session-connection'],
      flags: ['strip extmap', 'strict source', 'inject DTMF'],
      codec: { strip: ['all'], except: ['PCMU', 'PCMA', 'telephone-event'] },
    });
    expect(ngProfileFor({ operation: 'offer', from: 'legacy', toward: 'webrtc', transcode: false }, policy)).toEqual({
      ICE: 'force',
      SDES: ['off'],
      'transport-protocol': 'UDP/TLS/RTP/SAVPF',
      'rtcp-mux': ['offer', 'require'],
      replace: ['origin', 'session-connection'],
      flags: ['generate mid', 'strict source', 'inject DTMF'],
    });
    expect(ngProfileFor({ operation: 'answer', from: 'legacy', toward: 'webrtc', transcode: true }, policy)['rtcp-mux']).toEqual(['require']);
    expect(ngProfileFor({ operation: 'offer', from: 'webrtc', toward: 'legacy', transcode: true }, policy).codec).toEqual({
      mask: ['all'],
      transcode: ['PCMU', 'PCMA', 'telephone-event'],
    });
    const quiet = resolveMediaPolicy({ injectDtmf: false, strictSource: false });
    expect(ngProfileFor({ operation: 'answer', from: 'webrtc', toward: 'legacy', transcode: false }, quiet).flags).toEqual(['strip extmap']);
  });

  it('plans codecs: pass-through when possible, transcoding when needed or asked for', () => {
    expect(codecPlanFor('webrtc', 'legacy', offeredAudioCodecs(CHROME_OFFER), policy)).toMatchObject({ transcode: false, removeFromWebrtcSdp: [] });
    expect(codecPlanFor('webrtc', 'legacy', offeredAudioCodecs(CHROME_OFFER_OPUS_ONLY), policy)).toMatchObject({ transcode: true, removeFromWebrtcSdp: [] });
    const opus = resolveMediaPolicy({ codecPolicy: 'opus-on-webrtc' });
    expect(codecPlanFor('webrtc', 'legacy', offeredAudioCodecs(CHROME_OFFER), opus)).toMatchObject({ transcode: true, removeFromWebrtcSdp: ['PCMU', 'PCMA'] });
    expect(codecPlanFor('legacy', 'webrtc', ['G729', 'telephone-event'], policy)).toMatchObject({ transcode: true });
    expect(codecPlanFor('legacy', 'legacy', ['G729'], opus)).toMatchObject({ transcode: false });
  });
});

describe('DTMF log datagrams', () => {
  it('parses rtpengine\'s JSON and ignores anything else', () => {
    const event = parseDtmfDatagram(
      '{"callid":"c1","source_tag":"B","tags":["A","B"],"type":"DTMF","timestamp":1795396270,"source_ip":"127.0.0.1","event":10,"duration":200,"volume":10}',
    );
    expect(event).toEqual({ callId: 'c1', sourceTag: 'B', tags: ['A', 'B'], digit: '*', event: 10, durationMs: 200, volume: 10, timestamp: 1795396270, sourceIp: '127.0.0.1' });
    expect(parseDtmfDatagram('not json')).toBeUndefined();
    expect(parseDtmfDatagram('{"callid":"c1","source_tag":"B","event":99}')).toBeUndefined();
    expect(parseDtmfDatagram('{"callid":"c1","source_tag":"B","type":"other","event":1}')).toBeUndefined();
  });
});
