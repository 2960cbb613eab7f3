/**
 * Two plain-RTP phones (Node dgram sockets) through a real rtpengine via MediaSession: media flows
 * both ways, hold/resume re-offers stop and restart it, play DTMF reaches the far phone as RFC 4733,
 * a phone's RFC 4733 digit shows up on the --dtmf-log-dest listener, and delete leaves nothing.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RtpPhone, sleep } from './rtp-phone';
import { newSession, poolFor, rtpengineMissing, startTestRtpengine, type TestRtpengine } from './rtpengine-fixture';
import type { RtpenginePool } from '../../gateway/src/app/media/rtpengine-pool';
import type { MediaSession } from '../../gateway/src/app/media/media-session';
import type { DtmfEvent } from '../../gateway/src/app/media/dtmf-events';
import { audioDirection, audioEndpoint } from '../../gateway/src/app/media/sdp-policy';

interface LegacyCall {
  session: MediaSession;
  alice: RtpPhone; // caller
  bob: RtpPhone; // callee
  /** rtpengine's SDP for bob (offer) and for alice (answer). */
  offerToBob: string;
  answerToAlice: string;
}

describe.skipIf(rtpengineMissing)('legacy <-> legacy call through a real rtpengine', () => {
  let engine: TestRtpengine;
  let pool: RtpenginePool;
  const phones: RtpPhone[] = [];
  const sessions: MediaSession[] = [];

  beforeAll(async () => {
    engine = await startTestRtpengine({ dtmfEvents: true });
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

  async function setUpCall(): Promise<LegacyCall> {
    const alice = await RtpPhone.open('alice');
    const bob = await RtpPhone.open('bob');
    phones.push(alice, bob);
    const session = newSession(pool, 'legacy', 'legacy');
    sessions.push(session);
    const offerToBob = await session.offer('caller', alice.sdp());
    const answerToAlice = await session.answer('callee', bob.sdp());
    bob.useRemoteSdp(offerToBob);
    alice.useRemoteSdp(answerToAlice);
    return { session, alice, bob, offerToBob, answerToAlice };
  }

  it('carries RTP both ways and deletes the call', async () => {
    const { session, alice, bob, offerToBob, answerToAlice } = await setUpCall();
    // rtpengine hands each phone one of its own ports, not the other phone's
    expect(audioEndpoint(offerToBob).port).not.toBe(alice.port);
    expect(audioEndpoint(answerToAlice).port).not.toBe(bob.port);

    await Promise.all([alice.sendAudio(50), bob.sendAudio(50)]);
    await sleep(200);
    const aliceGot = alice.count(0, 0);
    const bobGot = bob.count(0, 0);
    expect(aliceGot).toBeGreaterThan(40);
    expect(bobGot).toBeGreaterThan(40);
    // every packet came from rtpengine's port for that phone
    expect(new Set(alice.received.map((p) => p.from))).toEqual(new Set([`127.0.0.1:${audioEndpoint(answerToAlice).port}`]));

    const query = await session.query();
    expect(Object.keys(query.tags ?? {}).sort()).toEqual([session.legTag('callee'), session.legTag('caller')].sort());

    const callId = session.callId;
    await session.delete();
    await session.delete(); // idempotent
    expect(session.state).toBe('deleted');
    const list = await pool.nodes[0]!.client.list();
    expect(list.calls).not.toContain(callId);
    expect(pool.metrics().activeCalls).toBe(0);
  });

  it('hold (sendonly) and resume (sendrecv) go through rtpengine again and gate the media', async () => {
    const { session, alice, bob } = await setUpCall();
    alice.startAudio();
    bob.startAudio();
    await sleep(600);
    const beforeHold = Date.now();
    await sleep(500);
    const aliceBefore = alice.count(beforeHold);
    const bobBefore = bob.count(beforeHold);
    expect(aliceBefore).toBeGreaterThan(15);
    expect(bobBefore).toBeGreaterThan(15);

    // alice puts bob on hold with a re-INVITE: sendonly; bob's phone sees recvonly and answers so
    const holdOffer = await session.offer('caller', alice.sdp({ direction: 'sendonly' }));
    expect(audioDirection(holdOffer)).toBe('sendonly');
    const holdAnswer = await session.answer('callee', bob.sdp({ direction: 'recvonly' }));
    expect(audioDirection(holdAnswer)).toBe('recvonly');
    await sleep(300);
    const held = Date.now();
    await sleep(600);
    const aliceHeld = alice.count(held);
    const bobHeld = bob.count(held);
    // nothing flows toward the side that asked not to receive (alice); bob still hears alice
    expect(aliceHeld).toBeLessThanOrEqual(2);
    expect(bobHeld).toBeGreaterThan(15);
    expect(session.blockedLegs).toEqual(['callee']);

    // the callee re-INVITEs this time (tags swap in rtpengine): resume with sendrecv both ways
    const resumeOffer = await session.offer('callee', bob.sdp({ direction: 'sendrecv' }));
    expect(audioDirection(resumeOffer)).toBe('sendrecv');
    const resumeAnswer = await session.answer('caller', alice.sdp({ direction: 'sendrecv' }));
    expect(audioDirection(resumeAnswer)).toBe('sendrecv');
    await sleep(300);
    const resumed = Date.now();
    await sleep(600);
    expect(alice.count(resumed)).toBeGreaterThan(15);
    expect(bob.count(resumed)).toBeGreaterThan(15);
    expect(session.blockedLegs).toEqual([]);
    const tags = Object.keys((await session.query()).tags ?? {}).sort();
    expect(tags).toEqual([session.legTag('callee'), session.legTag('caller')].sort());
    alice.stopAudio();
    bob.stopAudio();
  });

  it('after a party swap, a re-offer from either leg changes no SSRC toward the answerer, not even for packets sent before the answer', async () => {
    // A swap (transfers) leaves the old party's monologue subscribed, so rtpengine 10.5 re-subscribes
    // both ways at every offer and, until the answer, forwards the offerer's packets with their own
    // SSRC instead of the mapped one: a browser then plays nothing (media-gate.ts). The gateway
    // holds the offerer's packets back meanwhile.
    const { session, alice, bob, carol } = await swappedCall();
    bob.stopAudio();
    await Promise.all([alice.sendAudio(10), carol.sendAudio(10)]);
    await sleep(100);
    const ssrcs = (phone: RtpPhone) => new Set(phone.received.map((p) => p.ssrc));
    const before = { alice: ssrcs(alice), carol: ssrcs(carol) };
    expect([before.alice.size, before.carol.size]).toEqual([1, 1]);
    for (const [offerer, answerer, leg] of [[alice, carol, 'caller'], [carol, alice, 'callee']] as const) {
      await session.offer(leg, offerer.sdp());
      await offerer.sendAudio(5); // the window: offer done, answer not yet
      expect(session.blockedLegs).toEqual([leg]);
      await session.answer(leg === 'caller' ? 'callee' : 'caller', answerer.sdp());
      expect(session.blockedLegs).toEqual([]);
      const resumed = Date.now();
      await Promise.all([alice.sendAudio(10), carol.sendAudio(10)]);
      await sleep(100);
      expect(answerer.count(resumed)).toBeGreaterThan(5);
    }
    expect({ alice: ssrcs(alice), carol: ssrcs(carol) }).toEqual(before);
  });

  /** A call whose callee was swapped for carol (as a transfer does): its re-offers are gated. */
  async function swappedCall(): Promise<LegacyCall & { carol: RtpPhone }> {
    const call = await setUpCall();
    const carol = await RtpPhone.open('carol');
    phones.push(carol);
    call.session.replaceParty('callee', 'legacy');
    carol.useRemoteSdp(await call.session.offer('caller', call.alice.sdp()));
    await call.session.answer('callee', carol.sdp());
    return { ...call, carol };
  }

  it('a call that never had a party swapped is not gated: the offerer\'s media keeps flowing during a re-offer', async () => {
    const { session, alice, bob } = await setUpCall();
    await session.offer('caller', alice.sdp());
    expect(session.blockedLegs).toEqual([]);
    const during = Date.now();
    await alice.sendAudio(10); // the window: offer done, answer not yet
    await sleep(100);
    expect(bob.count(during)).toBeGreaterThan(5);
    await session.answer('callee', bob.sdp());
    expect(session.blockedLegs).toEqual([]);
  });

  it('a rejected re-offer after a swap lets the offerer\'s media flow again', async () => {
    const { session, alice, carol } = await swappedCall();
    await session.offer('callee', carol.sdp());
    expect(session.blockedLegs).toEqual(['callee']);
    await session.abandonPendingOffer();
    expect(session.blockedLegs).toEqual([]);
    const after = Date.now();
    await carol.sendAudio(10);
    await sleep(100);
    expect(alice.count(after)).toBeGreaterThan(5);
  });

  it('a codec change by re-offer (PCMU -> PCMA) goes through rtpengine again', async () => {
    const { session, alice, bob } = await setUpCall();
    const toAlice = await session.offer('callee', bob.sdp({ payloadTypes: [8, 101] }));
    expect(audioEndpoint(toAlice).payloadTypes[0]).toBe(8);
    expect(toAlice).toMatch(/^a=rtpmap:8 PCMA\/8000\r$/m);
    const toBob = await session.answer('caller', alice.sdp({ payloadTypes: [8, 101] }));
    expect(audioEndpoint(toBob).payloadTypes[0]).toBe(8);
    alice.useRemoteSdp(toBob);
    bob.useRemoteSdp(toAlice);
    const since = Date.now();
    await Promise.all([alice.sendAudio(25, 20, 8), bob.sendAudio(25, 20, 8)]);
    await sleep(200);
    expect(alice.count(since, 8)).toBeGreaterThan(18);
    expect(bob.count(since, 8)).toBeGreaterThan(18);
  });

  it('inactive re-offer stops media in both directions', async () => {
    const { session, alice, bob } = await setUpCall();
    alice.startAudio();
    bob.startAudio();
    await sleep(500);
    await session.offer('callee', bob.sdp({ direction: 'inactive' }));
    await session.answer('caller', alice.sdp({ direction: 'inactive' }));
    await sleep(300);
    const inactive = Date.now();
    await sleep(600);
    expect(alice.count(inactive)).toBeLessThanOrEqual(2);
    expect(bob.count(inactive)).toBeLessThanOrEqual(2);
    alice.stopAudio();
    bob.stopAudio();
  });

  it('play DTMF from the caller reaches the callee as RFC 4733 with its telephone-event PT', async () => {
    const { session, alice, bob, offerToBob } = await setUpCall();
    const bobTelephoneEventPt = audioEndpoint(offerToBob).telephoneEventPt;
    expect(bobTelephoneEventPt).toBe(101);
    // injection is paced by the sending leg's own RTP, so alice must be talking
    alice.startAudio();
    bob.startAudio();
    await sleep(400);
    await session.playDtmf('caller', '5', { durationMs: 250 });
    await sleep(900);
    alice.stopAudio();
    bob.stopAudio();
    const events = bob.received.filter((packet) => packet.pt === bobTelephoneEventPt);
    expect(events.length).toBeGreaterThanOrEqual(5);
    expect(events.every((packet) => packet.payload[0] === 5)).toBe(true);
    const last = events[events.length - 1]!;
    expect(last.payload[1]! & 0x80).toBe(0x80); // end bit on the last packets
    expect(events.filter((packet) => (packet.payload[1]! & 0x80) !== 0).length).toBeGreaterThanOrEqual(1);
    // alice (the "sender") gets no telephone-event back
    expect(alice.count(0, 101)).toBe(0);
  });

  it('RFC 4733 from a phone is reported on the --dtmf-log-dest listener for that leg', async () => {
    const { session, alice, bob, answerToAlice } = await setUpCall();
    const listener = engine.dtmfEvents!;
    const fromBob: DtmfEvent[] = [];
    const unsubscribe = listener.subscribeLeg(session.callId, session.legTag('callee'), (event) => fromBob.push(event));
    alice.startAudio();
    bob.startAudio();
    await sleep(300);
    bob.stopAudio();
    // bob sends '#' (event 11) with the PT rtpengine offered him
    await bob.sendDigit(101, 11, 200);
    bob.startAudio();
    await sleep(700);
    alice.stopAudio();
    bob.stopAudio();
    unsubscribe();
    expect(fromBob.length).toBeGreaterThanOrEqual(1);
    expect(fromBob[0]).toMatchObject({ callId: session.callId, sourceTag: session.legTag('callee'), digit: '#', event: 11 });
    // and the digit passed through to alice as RFC 4733
    expect(alice.count(0, audioEndpoint(answerToAlice).telephoneEventPt)).toBeGreaterThan(0);
  });
});
