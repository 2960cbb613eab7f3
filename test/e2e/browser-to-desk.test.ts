/**
 * End to end, browser → desk phone (issue 3 §5 a, f, g): the softphone page in Chromium signs in
 * over WSS and calls SIPp desk phones through the real `gateway start` (engine + app + rtpengine),
 * everything in one fresh network namespace (see e2e-fixture.ts). Each media assertion counts real
 * RTP: getStats in the browser, SIPp's -rtp_echo (what reaches SIPp comes back).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { PHONES, POLL, e2eSuite, note, skipReason, until, type PhonePage } from './e2e-fixture.js';

describe.skipIf(skipReason)(`e2e: browser calls desk phones${skipReason ? ` — SKIPPED: ${skipReason}` : ''}`, () => {
  const fx = e2eSuite('browser-to-desk');
  let alice: PhonePage;

  beforeAll(async () => {
    alice = await fx.get().phone('alice');
    expect(await alice.page.evaluate(() => window.gatewayPhone.registrationState)).toBe('registered');
  }, 60_000);

  it('a. alice registers over WSS (self-signed cert) and calls the desk phone: SIPp gets RTP (echoed) and the browser hears it', async () => {
    const e2e = fx.get();
    const status = await e2e.status();
    expect(status.registrar.byTransport).toMatchObject({ WSS: 1 });
    const desk = e2e.sipp({ scenario: { file: 'uas-answer.xml' }, localPort: PHONES.desk, calls: 1, extraArgs: ['-rtp_echo'] });
    await alice.startCall('desk');
    expect(await alice.waitCallResult()).toBe('answered');
    expect(await alice.callState()).toBe('active');

    const flow = await alice.waitInboundFlowing(25, 2000);
    const echoed = await e2e.rtpenginePacketsFrom(desk.process.options.mediaPort);
    note(`a: alice inbound packetsReceived ${flow.first.packetsReceived} -> ${flow.second.packetsReceived} in 2 s (+${flow.grew}), sent ${flow.second.packetsSent}, codec ${flow.second.codec}; rtpengine got ${echoed} packets back from SIPp's echo`);
    expect(flow.grew).toBeGreaterThanOrEqual(25);
    expect(echoed).toBeGreaterThanOrEqual(25); // SIPp received RTP from rtpengine: it echoed it
    expect(flow.second.packetsSent).toBeGreaterThan(0);
    expect(flow.second.connectionState).toBe('connected');
    expect(flow.second.remoteCandidate).toMatch(/^127\.0\.0\.1:/);
    const heard = await alice.waitAudible();
    note(`a: alice audioLevel ${heard?.audioLevel}, totalAudioEnergy ${heard?.totalAudioEnergy}`);
    expect(heard!.totalAudioEnergy! > 0 || heard!.audioLevel! > 0).toBe(true);
    expect((await e2e.status()).calls).toBe(1);
    expect(await e2e.rtpengineSessions()).toBe(1);

    await alice.page.evaluate(() => window.gatewayPhone.hangup());
    await alice.waitCallState('idle');
    const result = await desk.result;
    expect(result.exitCode, result.output.slice(-2000)).toBe(0);
    await e2e.waitIdle();
  });

  it('f. BYE from the desk phone side ends the call in the page', async () => {
    const e2e = fx.get();
    const desk = e2e.sipp({ scenario: { file: 'uas-answer-bye.xml' }, localPort: PHONES.desk, calls: 1, extraArgs: ['-rtp_echo', '-d', '5000'] });
    await alice.startCall('desk');
    expect(await alice.waitCallResult()).toBe('answered');
    const flow = await alice.waitInboundFlowing(25, 2000);
    note(`f(bye from desk): alice inbound +${flow.grew} in 2 s before the desk hung up`);
    await alice.waitCallState('idle', 30_000);
    expect((await alice.shown()).lastCall).toContain('ended — remote hung up');
    const result = await desk.result;
    expect(result.exitCode, result.output.slice(-2000)).toBe(0);
    await e2e.waitIdle();
  });

  it('f. CANCEL before answer: the desk phone rings, alice hangs up, SIPp sees CANCEL and answers 487', async () => {
    const e2e = fx.get();
    const desk = e2e.sipp({ scenario: { file: 'uas-ring-cancel.xml' }, localPort: PHONES.desk, calls: 1 });
    await alice.startCall('desk');
    await desk.waitForMessage(/^SIP\/2\.0 180 Ringing/m);
    // The 180 travels back to the page through the gateway: give it a moment to show "ringing".
    const shownWhileRinging = await until(() => alice.callState(), (s) => s === 'ringing', 3000, 'ringing').catch(() => alice.callState());
    await alice.page.evaluate(() => window.gatewayPhone.hangup());
    expect(await alice.waitCallResult()).toMatch(/^Call cancelled/);
    await alice.waitCallState('idle');
    const result = await desk.result;
    expect(result.exitCode, result.output.slice(-2000)).toBe(0);
    expect(desk.messages()).toMatch(/^CANCEL sip:desk@127\.0\.0\.1:5080/m);
    await e2e.waitIdle();
    // The page shows that the far end rings (180 -> "ringing"): see the report, the gateway's 180 lacks a Contact.
    expect(shownWhileRinging).toBe('ringing');
  });

  it('f. 486 from the desk phone reaches the caller: the page shows "Call failed: 486 Busy Here"', async () => {
    const e2e = fx.get();
    const desk = e2e.sipp({ scenario: { file: 'uas-busy.xml' }, localPort: PHONES.desk, calls: 1 });
    await alice.startCall('desk');
    expect(await alice.waitCallResult()).toBe('Call failed: 486 Busy Here');
    await until(() => alice.shown(), (s) => s.error === 'Call failed: 486 Busy Here', POLL.timeout, 'the error box');
    expect((await alice.shown()).status).toBe('486');
    const result = await desk.result;
    expect(result.exitCode, result.output.slice(-2000)).toBe(0);
    await e2e.waitIdle();
  });

  it('f. calling a user who is not registered gives 480; an unknown user gives 404', async () => {
    await alice.startCall('bob');
    expect(await alice.waitCallResult()).toMatch(/^Call failed: 480 /);
    expect(await alice.shown()).toMatchObject({ status: '480', outcome: 'failed', error: expect.stringMatching(/^Call failed: 480 /) });
    await alice.startCall('nobody-here');
    expect(await alice.waitCallResult()).toMatch(/^Call failed: 404 /);
    expect(await alice.shown()).toMatchObject({ status: '404', outcome: 'failed', error: expect.stringMatching(/^Call failed: 404 /) });
    await fx.get().waitIdle();
  });

  it('g. early media: the desk phone sends 183 with SDP and plays RTP before its 200; the browser receives it before the answer', async () => {
    const e2e = fx.get();
    const desk = e2e.sipp({ scenario: { file: 'uas-early-media.xml' }, localPort: PHONES.desk, calls: 1, extraArgs: ['-d', '8000'] });
    await alice.startCall('desk');
    await desk.waitForMessage(/^SIP\/2\.0 183 Session Progress/m);
    const early = await alice.waitInboundFlowing(20, 1500, 4000);
    const stateThen = await alice.callState();
    const answeredThen = await alice.callResult();
    note(`g: before answer (call state ${stateThen}): alice inbound ${early.first.packetsReceived} -> ${early.second.packetsReceived} (+${early.grew})`);
    note(`g: rtpengine received ${await e2e.rtpenginePacketsFrom(desk.process.options.mediaPort)} packets from the desk phone before the answer`);
    expect(await alice.waitCallResult(30_000)).toBe('answered');
    const later = await alice.waitInboundFlowing(25, 2000);
    note(`g: after answer: alice inbound +${later.grew} in 2 s (codec ${later.second.codec})`);
    await alice.page.evaluate(() => window.gatewayPhone.hangup());
    const result = await desk.result;
    expect(result.exitCode, result.output.slice(-2000)).toBe(0);
    await e2e.waitIdle();
    // Early media: packets arrived while the call was still unanswered.
    expect(answeredThen).toBeUndefined();
    expect(stateThen).toBe('ringing');
    expect(early.grew).toBeGreaterThanOrEqual(20);
  });

  it('i. afterwards: /api/status shows no calls and rtpengine holds no sessions', async () => {
    const e2e = fx.get();
    const idle = await e2e.waitIdle();
    expect(idle).toEqual({ calls: 0, sessions: 0 });
    expect((await e2e.status()).rtpengine.activeCalls).toBe(0);
  });
});
