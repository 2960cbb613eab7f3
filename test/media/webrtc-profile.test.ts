/**
 * The WebRTC <-> legacy flag sets against a real rtpengine, checked on the SDP each side gets:
 * browser offerer (pass-through and transcoding), legacy offerer, re-offers from either side, and
 * the DTLS role toward the browser with and without --dtls-passive.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import * as sdpTransform from 'sdp-transform';
import { CHROME_OFFER, CHROME_OFFER_OPUS_ONLY, CHROME_OFFER_WITH_FOREIGN_CANDIDATE, chromeAnswerTo, chromeReoffer } from './chrome-sdp';
import { RtpPhone } from './rtp-phone';
import { newSession, poolFor, rtpengineMissing, startTestRtpengine, type TestRtpengine } from './rtpengine-fixture';
import type { RtpenginePool } from '../../gateway/src/app/media/rtpengine-pool';
import type { MediaSession } from '../../gateway/src/app/media/media-session';
import { NgClient } from '../../gateway/src/app/media/ng-client';

function audio(sdp: string): sdpTransform.MediaDescription {
  const media = sdpTransform.parse(sdp).media.find((m) => m.type === 'audio');
  if (!media) throw new Error(`no audio in\n${sdp}`);
  return media;
}

function codecs(sdp: string): string[] {
  return audio(sdp).rtp.map((rtp) => `${rtp.codec}/${rtp.rate}`);
}

/** What a SIP phone must get: plain RTP/AVP, no ICE, no DTLS, no browser stream ids, RTCP on its own port. */
function expectLegacySdp(sdp: string): void {
  const media = audio(sdp);
  expect(media.protocol).toBe('RTP/AVP');
  expect(sdp).not.toMatch(/^a=(ice-ufrag|ice-pwd|candidate|fingerprint|setup|crypto|ssrc|ssrc-group|msid|msid-semantic|extmap|rtcp-mux)\b/m);
  expect(media.rtcp?.port).toBe(media.port + 1);
}

/** What the browser must get: DTLS-SRTP profile with ICE, fingerprint, rtcp-mux and a mid. */
function expectWebrtcSdp(sdp: string): sdpTransform.MediaDescription {
  const media = audio(sdp);
  expect(media.protocol).toBe('UDP/TLS/RTP/SAVPF');
  expect(media.iceUfrag).toBeTruthy();
  expect(media.icePwd).toBeTruthy();
  expect(media.fingerprint?.hash ?? sdpTransform.parse(sdp).fingerprint?.hash).toBeTruthy();
  expect(media.rtcpMux).toBe('rtcp-mux');
  expect(media.mid).toBeDefined();
  expect(sdp).not.toMatch(/^a=crypto:/m);
  return media;
}

describe.skipIf(rtpengineMissing)('WebRTC <-> legacy profiles through a real rtpengine', () => {
  let engine: TestRtpengine;
  let pool: RtpenginePool;
  const sessions: MediaSession[] = [];
  const phones: RtpPhone[] = [];

  beforeAll(async () => {
    engine = await startTestRtpengine();
    pool = poolFor([engine.endpoint]);
    await pool.start();
  });
  afterEach(async () => {
    for (const session of sessions.splice(0)) await session.delete();
    for (const phone of phones.splice(0)) phone.close();
  });
  afterAll(async () => {
    pool?.stop();
    await engine?.stop();
  });

  async function phone(): Promise<RtpPhone> {
    const created = await RtpPhone.open('desk');
    phones.push(created);
    return created;
  }

  function session(...args: Parameters<typeof newSession> extends [unknown, ...infer Rest] ? Rest : never): MediaSession {
    const created = newSession(pool, ...args);
    sessions.push(created);
    return created;
  }

  it('browser offer -> legacy: RTP/AVP with G.711, no ICE/DTLS/ssrc/msid; answer -> browser: SAVPF, ICE, fingerprint, rtcp-mux, setup active', async () => {
    const call = session('webrtc', 'legacy');
    const toPhone = await call.offer('caller', CHROME_OFFER);
    expectLegacySdp(toPhone);
    expect(codecs(toPhone)).toContain('PCMU/8000');
    expect(codecs(toPhone).some((codec) => codec.startsWith('opus'))).toBe(false);
    expect(call.transcoding).toBe(false);

    const desk = await phone();
    const toBrowser = await call.answer('callee', desk.sdp({ telephoneEventPt: audio(toPhone).rtp.find((r) => r.codec === 'telephone-event')!.payload }));
    const media = expectWebrtcSdp(toBrowser);
    // DTLS role: without --dtls-passive rtpengine answers active and acts as the client (never passive)
    expect(media.setup).toBe('active');
    expect(codecs(toBrowser)[0]).toBe('PCMU/8000');
    expect(media.candidates?.every((candidate) => candidate.ip === '127.0.0.1')).toBe(true);
  });

  it('transcoding: a browser offering only opus gets opus, the phone gets PCMU', async () => {
    const call = session('webrtc', 'legacy');
    const toPhone = await call.offer('caller', CHROME_OFFER_OPUS_ONLY);
    expect(call.transcoding).toBe(true);
    expectLegacySdp(toPhone);
    expect(codecs(toPhone)).toContain('PCMU/8000');
    expect(codecs(toPhone).some((codec) => codec.startsWith('opus'))).toBe(false);
    const te = audio(toPhone).rtp.find((r) => r.codec === 'telephone-event');
    expect(te?.rate).toBe(8000);

    const desk = await phone();
    const toBrowser = await call.answer('callee', desk.sdp({ telephoneEventPt: te!.payload }));
    expectWebrtcSdp(toBrowser);
    expect(codecs(toBrowser)[0]).toBe('opus/48000');
    expect(codecs(toBrowser)).not.toContain('PCMU/8000');
  });

  it('opus-on-webrtc policy: G.711 is cut from the browser offer so rtpengine really transcodes', async () => {
    const call = session('webrtc', 'legacy', { codecPolicy: 'opus-on-webrtc' });
    const toPhone = await call.offer('caller', CHROME_OFFER);
    expect(call.transcoding).toBe(true);
    expect(codecs(toPhone)).toEqual(expect.arrayContaining(['PCMU/8000', 'PCMA/8000']));
    expect(codecs(toPhone).some((codec) => codec.startsWith('opus'))).toBe(false);
    const desk = await phone();
    const te = audio(toPhone).rtp.find((r) => r.codec === 'telephone-event')!.payload;
    const toBrowser = await call.answer('callee', desk.sdp({ telephoneEventPt: te }));
    expect(codecs(toBrowser)[0]).toBe('opus/48000');
    expect(codecs(toBrowser)).not.toContain('PCMU/8000');
  });

  it('legacy offer -> browser: SAVPF with actpass, ICE, rtcp-mux, generated mid; browser answer -> phone: RTP/AVP', async () => {
    const desk = await phone();
    const call = session('legacy', 'webrtc');
    const toBrowser = await call.offer('caller', desk.sdp({ payloadTypes: [0, 8, 101] }));
    const media = expectWebrtcSdp(toBrowser);
    expect(media.setup).toBe('actpass');
    expect(codecs(toBrowser)).toEqual(expect.arrayContaining(['PCMU/8000', 'PCMA/8000', 'telephone-event/8000']));

    const toPhone = await call.answer('callee', chromeAnswerTo(toBrowser, 'PCMU'));
    expectLegacySdp(toPhone);
    expect(codecs(toPhone)[0]).toBe('PCMU/8000');
  });

  it('legacy offer -> browser with opus-on-webrtc: the browser is offered opus only', async () => {
    const desk = await phone();
    const call = session('legacy', 'webrtc', { codecPolicy: 'opus-on-webrtc' });
    const toBrowser = await call.offer('caller', desk.sdp({ payloadTypes: [0, 8, 101] }));
    expect(codecs(toBrowser)[0]).toBe('opus/48000');
    expect(codecs(toBrowser)).not.toContain('PCMU/8000');
    const toPhone = await call.answer('callee', chromeAnswerTo(toBrowser, 'opus'));
    expectLegacySdp(toPhone);
    expect(codecs(toPhone)[0]).toMatch(/^PCM[UA]\/8000$/);
  });

  it('re-offers from either side keep the profiles, the ICE credentials and a safe DTLS role', async () => {
    const call = session('webrtc', 'legacy');
    const firstToPhone = await call.offer('caller', CHROME_OFFER);
    const desk = await phone();
    const te = audio(firstToPhone).rtp.find((r) => r.codec === 'telephone-event')!.payload;
    const firstToBrowser = await call.answer('callee', desk.sdp({ telephoneEventPt: te }));

    // browser puts the phone on hold (re-INVITE from the caller)
    const holdToPhone = await call.offer('caller', chromeReoffer(CHROME_OFFER, 'sendonly', 3));
    expectLegacySdp(holdToPhone);
    expect(audio(holdToPhone).direction).toBe('sendonly');
    expect(audio(holdToPhone).port).toBe(audio(firstToPhone).port);
    const holdToBrowser = await call.answer('callee', desk.sdp({ direction: 'recvonly', telephoneEventPt: te }));
    expect(audio(holdToBrowser).direction).toBe('recvonly');
    expect(audio(holdToBrowser).setup).toBe('active'); // same role as before: no DTLS renegotiation
    expect(audio(holdToBrowser).iceUfrag).toBe(audio(firstToBrowser).iceUfrag);
    expect(call.blockedLegs).toEqual(['callee']);

    // the phone resumes with its own re-INVITE (offer from the callee toward the browser)
    const resumeToBrowser = await call.offer('callee', desk.sdp({ telephoneEventPt: te }));
    const media = expectWebrtcSdp(resumeToBrowser);
    expect(media.setup).toBe('actpass'); // rtpengine offers actpass; Chrome keeps its passive role in the re-answer
    expect(media.iceUfrag).toBe(audio(firstToBrowser).iceUfrag);
    const browserReanswer = chromeAnswerTo(resumeToBrowser, 'PCMU').replace('a=setup:active', 'a=setup:passive');
    const resumeToPhone = await call.answer('caller', browserReanswer);
    expectLegacySdp(resumeToPhone);
    expect(audio(resumeToPhone).direction).toBe('sendrecv');
    expect(call.blockedLegs).toEqual([]);

    const query = await call.query();
    expect(Object.keys(query.tags ?? {}).sort()).toEqual([call.legTag('caller'), call.legTag('callee')].sort());
  });

  it('drops browser candidates outside candidateNetworks only when configured', async () => {
    const offerSpy = vi.spyOn(pool.nodes[0]!.client, 'offer');
    try {
      await session('webrtc', 'legacy', { candidateNetworks: ['127.0.0.0/8', '::1/128'] }).offer('caller', CHROME_OFFER_WITH_FOREIGN_CANDIDATE);
      await session('webrtc', 'legacy').offer('caller', CHROME_OFFER_WITH_FOREIGN_CANDIDATE);
      const [filtered, unfiltered] = offerSpy.mock.calls.map(([params]) => params.sdp);
      expect(filtered).toContain('127.0.0.1 32952 typ host');
      expect(filtered).not.toContain('192.0.2.2');
      expect(unfiltered).toContain('192.0.2.2');
    } finally {
      offerSpy.mockRestore();
    }
  });
});

describe.skipIf(rtpengineMissing)('DTLS role with a daemon started with --dtls-passive', () => {
  let engine: TestRtpengine;
  let pool: RtpenginePool;
  beforeAll(async () => {
    engine = await startTestRtpengine({ extraArgs: ['--dtls-passive'] });
    pool = poolFor([engine.endpoint]);
    await pool.start();
  });
  afterAll(async () => {
    pool?.stop();
    await engine?.stop();
  });

  it('answers toward the browser say setup:passive (and rtpengine then is the DTLS server)', async () => {
    const call = newSession(pool, 'webrtc', 'legacy');
    const desk = await RtpPhone.open('desk');
    try {
      const toPhone = await call.offer('caller', CHROME_OFFER);
      const te = audio(toPhone).rtp.find((r) => r.codec === 'telephone-event')!.payload;
      const toBrowser = await call.answer('callee', desk.sdp({ telephoneEventPt: te }));
      expect(audio(toBrowser).setup).toBe('passive');
    } finally {
      await call.delete();
      desk.close();
    }
    const client = new NgClient(engine.endpoint, { timeoutMs: 300, retries: 1 });
    expect((await client.list()).calls).toEqual([]);
    client.close();
  });
});
