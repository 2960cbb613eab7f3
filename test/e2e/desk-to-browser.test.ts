/**
 * End to end, desk phone → browser (issue 3 §5 b, d, h): SIPp plays a desk phone the gateway trusts
 * by address (static phone `sippuac`, 127.0.0.1:5090) and calls sip:alice, who is signed in on the
 * softphone page over WSS; the page answers. Hold and resume are driven from both ends: from the
 * page (gatewayPhone.hold/unhold) and from SIPp (re-INVITE a=sendonly, then a=sendrecv). Blind
 * transfer: SIPp REFERs the browser to the static desk phone (another SIPp, answering with echo).
 *
 * SIPp runs with -rtp_echo: what it receives goes back to its sender. The browser's inbound RTP
 * therefore proves both directions (browser → rtpengine → SIPp → rtpengine → browser), and
 * rtpengine's per-stream counters (rtpengine-ctl) show how many packets came back from SIPp.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { PHONES, e2eSuite, note, skipReason, sleep, until, type PhonePage, type SippRun } from './e2e-fixture.js';

describe.skipIf(skipReason)(`e2e: desk phone calls the browser${skipReason ? ` — SKIPPED: ${skipReason}` : ''}`, () => {
  const fx = e2eSuite('desk-to-browser');
  let alice: PhonePage;

  beforeAll(async () => {
    alice = await fx.get().phone('alice');
  }, 60_000);

  /** SIPp (as sippuac, with -rtp_echo) calls alice; the page answers; resolves once media flows. */
  async function deskCallsAlice(scenario: string): Promise<SippRun> {
    const desk = fx.get().sipp({
      scenario: { file: scenario },
      localPort: PHONES.sippuac,
      target: '127.0.0.1:5060',
      calls: 1,
      extraArgs: ['-s', 'alice', '-rtp_echo'],
    });
    await alice.waitCallState('incoming');
    expect((await alice.page.locator('#incoming-from').textContent()) ?? '').toContain('sippuac');
    await alice.page.evaluate(() => window.gatewayPhone.answer());
    expect(await alice.callState()).toBe('active');
    return desk;
  }

  it('b. SIPp calls the registered browser (sip:alice), the page answers: audio both ways', async () => {
    const e2e = fx.get();
    const desk = await deskCallsAlice('uac-call.xml');
    const flow = await alice.waitInboundFlowing(25, 2000);
    const fromSipp = await e2e.rtpenginePacketsFrom(desk.process.options.mediaPort);
    note(`b: alice inbound ${flow.first.packetsReceived} -> ${flow.second.packetsReceived} in 2 s (+${flow.grew}), alice sent ${flow.second.packetsSent}; rtpengine got ${fromSipp} packets echoed back by SIPp`);
    expect(flow.grew).toBeGreaterThanOrEqual(25);
    expect(fromSipp).toBeGreaterThanOrEqual(25);
    expect(flow.second).toMatchObject({ connectionState: 'connected' });
    const heard = await alice.waitAudible();
    note(`b: alice totalAudioEnergy ${heard?.totalAudioEnergy}, codec ${heard?.codec}`);
    // BYE from the browser side: SIPp expects it and answers 200.
    await alice.page.evaluate(() => window.gatewayPhone.hangup());
    await alice.waitCallState('idle');
    const result = await desk.result;
    expect(result.exitCode, result.output.slice(-2000)).toBe(0);
    await e2e.waitIdle();
  });

  it('d. hold and resume from the browser: inbound RTP stops while held and flows again after resume', async () => {
    const e2e = fx.get();
    const desk = await deskCallsAlice('uac-call-reinvites.xml');
    const before = await alice.waitInboundFlowing(25, 2000);
    await alice.page.evaluate(() => window.gatewayPhone.hold());
    expect(await alice.callState()).toBe('held');
    await sleep(1000); // packets already in flight
    const echoedBefore = await e2e.rtpenginePacketsFrom(desk.process.options.mediaPort);
    const held = await alice.inboundOver(3000);
    const echoedWhileHeld = (await e2e.rtpenginePacketsFrom(desk.process.options.mediaPort)) - echoedBefore;
    await alice.page.evaluate(() => window.gatewayPhone.unhold());
    expect(await alice.callState()).toBe('active');
    const resumed = await alice.waitInboundFlowing(25, 2000);
    note(`d(browser hold): alice inbound +${before.grew}/2 s before, +${held.grew}/3 s while held (rtpengine meanwhile got +${echoedWhileHeld} from SIPp and held them back), +${resumed.grew}/2 s after resume`);
    expect(held.grew).toBeLessThanOrEqual(3);
    expect(resumed.grew).toBeGreaterThanOrEqual(25);
    const sdp = desk.messages();
    expect(sdp).toMatch(/^a=sendonly/m); // the hold offer reached SIPp ...
    expect(sdp).toMatch(/^a=recvonly/m); // ... which answered it
    await alice.page.evaluate(() => window.gatewayPhone.hangup());
    const result = await desk.result;
    expect(result.exitCode, result.output.slice(-2000)).toBe(0);
    await e2e.waitIdle();
  });

  it('d. hold and resume from SIPp (re-INVITE a=sendonly, then a=sendrecv): inbound RTP stops while held, flows after resume', async () => {
    const e2e = fx.get();
    const desk = await deskCallsAlice('uac-hold.xml');
    const before = await alice.waitInboundFlowing(25, 2000);
    // SIPp holds after 6 s of talk and stays on hold for 10 s.
    await until(() => alice.events('reinvite-received'), (r) => r.includes('sendonly'), 30_000, 'the hold re-INVITE at the page');
    await sleep(1000);
    const held = await alice.inboundOver(3000);
    await until(() => alice.events('reinvite-received'), (r) => r.includes('sendrecv'), 30_000, 'the resume re-INVITE at the page');
    const resumed = await alice.waitInboundFlowing(25, 2000);
    note(`d(SIPp hold): alice inbound +${before.grew}/2 s before, +${held.grew}/3 s while held, +${resumed.grew}/2 s after resume`);
    expect(held.grew).toBeLessThanOrEqual(3);
    expect(resumed.grew).toBeGreaterThanOrEqual(25);
    // SIPp hangs up at the end of its scenario: BYE from the desk phone side.
    await alice.waitCallState('idle', 30_000);
    expect((await alice.shown()).lastCall).toContain('remote hung up');
    const result = await desk.result;
    expect(result.exitCode, result.output.slice(-2000)).toBe(0);
    await e2e.waitIdle();
  });

  // The browser stays in the same rtpengine call (the desk phone takes the transferor's place):
  // Chrome keeps its DTLS association across the re-INVITE, so a new rtpengine call would never
  // get a handshake (MediaSession.replaceParty).
  it('h. blind transfer: SIPp REFERs the browser to the desk phone; the browser ends up talking to the desk phone', async () => {
    const e2e = fx.get();
    const target = e2e.sipp({ scenario: { file: 'uas-answer.xml' }, localPort: PHONES.desk, calls: 1, extraArgs: ['-rtp_echo'] });
    const transferor = fx.get().sipp({
      scenario: { file: 'uac-refer.xml' },
      localPort: PHONES.sippuac,
      target: '127.0.0.1:5060',
      calls: 1,
      extraArgs: ['-s', 'alice', '-rtp_echo', '-d', '6000'],
    });
    await alice.waitCallState('incoming');
    await alice.page.evaluate(() => window.gatewayPhone.answer());
    const before = await alice.waitInboundFlowing(25, 2000);
    // 202, NOTIFY 100, NOTIFY 200 and the gateway's BYE: the transferor's scenario checks each.
    const refer = await transferor.result;
    expect(refer.exitCode, `${refer.output.slice(-1500)}
${transferor.messages().slice(-3000)}`).toBe(0);
    expect(transferor.messages()).toMatch(/^REFER sip:/m);
    expect(await alice.callState()).toBe('active');
    await until(() => alice.events('reinvite-received'), (r) => r.length > 0, 20_000, 'the re-INVITE toward the transfer target');
    const after = await alice.waitInboundFlowing(25, 2000);
    const fromDesk = await e2e.rtpenginePacketsFrom(target.process.options.mediaPort);
    note(`h: alice inbound +${before.grew}/2 s with the transferor, +${after.grew}/2 s after the transfer; rtpengine got ${fromDesk} packets echoed by the transfer target`);
    expect(after.grew).toBeGreaterThanOrEqual(25);
    expect(fromDesk).toBeGreaterThanOrEqual(25);
    expect(await e2e.status()).toMatchObject({ calls: 1 });
    expect(await e2e.rtpengineSessions()).toBe(1); // the transferor's session is gone
    await alice.page.evaluate(() => window.gatewayPhone.hangup());
    const result = await target.result;
    expect(result.exitCode, result.output.slice(-2000)).toBe(0);
    await e2e.waitIdle();
  });

  it('i. afterwards: /api/status shows no calls and rtpengine holds no sessions', async () => {
    const e2e = fx.get();
    expect(await e2e.waitIdle()).toEqual({ calls: 0, sessions: 0 });
    expect((await e2e.status()).rtpengine.activeCalls).toBe(0);
  });
});
