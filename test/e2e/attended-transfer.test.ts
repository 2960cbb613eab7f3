/**
 * End to end, attended transfer (RFC 5589 §7, Replaces per RFC 3891) with a browser in it.
 * The transferor A is two SIPp desk phones the gateway trusts by address: `sippuac2` makes the
 * consultation call first; `sippuac` then makes the first call and REFERs its peer with
 *   Refer-To: <sip:desk@127.0.0.1?Replaces=<sippuac2's dialog>>
 * (the Replaces value is read from sippuac2's SIP message log and handed over with -key). The
 * gateway joins the two remaining parties in one rtpengine session; the browser is never the one
 * moved to another session (it keeps ICE and DTLS), the desk phone is re-INVITEd instead.
 *
 *   1. browser = transferee:      sippuac -> alice (call 1), sippuac2 -> desk (call 2)
 *   2. browser = consulted party: sippuac -> desk (call 1), sippuac2 -> alice (call 2)
 *   3. two browsers:              sippuac -> alice (call 1), sippuac2 -> bob (call 2): neither
 *      browser moves, the two rtpengine calls are linked with plain RTP (ChainedMedia); then alice
 *      holds and resumes, a re-INVITE that crosses both calls
 *
 * The desk phone (SIPp uas, -rtp_echo) echoes what it receives: the browser's inbound RTP after
 * the transfer proves browser -> rtpengine -> desk -> rtpengine -> browser.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { PHONES, e2eSuite, note, skipReason, type E2E, type PhonePage, type SippRun } from './e2e-fixture.js';

/** The escaped Replaces value naming the dialog a SIPp UAC got from its 200 OK (RFC 3891 §6.1). */
function replacesFor(consult: SippRun): string {
  const log = consult.messages();
  const ok = /^SIP\/2\.0 200 OK[\s\S]*?\r?\n\r?\n/m.exec(log.slice(log.search(/^SIP\/2\.0 200 OK/m)))?.[0] ?? '';
  const value = (name: string) => new RegExp(`^${name}:\\s*(.+)$`, 'mi').exec(ok)?.[1]?.trim() ?? '';
  const tag = (h: string) => /;\s*tag=([^;>\s]+)/i.exec(h)?.[1];
  const callId = value('Call-ID');
  const fromTag = tag(value('From'));
  const toTag = tag(value('To'));
  if (!callId || !fromTag || !toTag) throw new Error(`no dialog in the consultation call's 200 OK:\n${ok || log.slice(-2000)}`);
  return encodeURIComponent(`${callId};to-tag=${toTag};from-tag=${fromTag}`);
}

/**
 * The transferor's first call: `sippuac` calls `callee`, talks `talkMs`, then REFERs it with the
 * Replaces of the consultation call (uac-refer-replaces.xml).
 */
function transferorCalls(e2e: E2E, callee: string, consult: SippRun, talkMs: number): SippRun {
  return e2e.sipp({
    scenario: { file: 'uac-refer-replaces.xml' },
    localPort: PHONES.sippuac,
    target: '127.0.0.1:5060',
    calls: 1,
    extraArgs: ['-s', callee, '-rtp_echo', '-d', String(talkMs), '-key', 'replaces', replacesFor(consult)],
  });
}

describe.skipIf(skipReason)(`e2e: attended transfer${skipReason ? ` — SKIPPED: ${skipReason}` : ''}`, () => {
  const fx = e2eSuite('attended-transfer');
  let alice: PhonePage;

  beforeAll(async () => {
    alice = await fx.get().phone('alice');
  }, 60_000);

  async function answer(phone: PhonePage = alice): Promise<void> {
    await phone.waitCallState('incoming');
    await phone.page.evaluate(() => window.gatewayPhone.answer());
    expect(await phone.callState()).toBe('active');
  }
  const answerAlice = () => answer(alice);

  it('browser as transferee: the desk phone A consulted replaces A; alice talks to it in her own rtpengine session', async () => {
    const e2e = fx.get();
    const desk = e2e.sipp({ scenario: { file: 'uas-answer-reinvite.xml' }, localPort: PHONES.desk, calls: 1, extraArgs: ['-rtp_echo'] });
    const consult = e2e.sipp({ scenario: { file: 'uac-call.xml' }, localPort: PHONES.sippuac2, target: '127.0.0.1:5060', calls: 1, extraArgs: ['-s', 'desk', '-rtp_echo'] });
    await consult.waitForMessage(/^SIP\/2\.0 200 OK/m);
    const transferor = transferorCalls(e2e, 'alice', consult, 5000);
    await answerAlice();
    const before = await alice.waitInboundFlowing(25, 2000);
    const refer = await transferor.result; // 202, NOTIFY 100, NOTIFY 200, then the gateway's BYE
    expect(refer.exitCode, `${refer.output.slice(-1500)}\n${transferor.messages().slice(-3000)}`).toBe(0);
    expect((await consult.result).exitCode).toBe(0); // the replaced dialog got its BYE
    expect(desk.messages()).toMatch(/^INVITE sip:desk@[\s\S]*^INVITE sip:desk@/m); // moved: a re-INVITE
    const after = await alice.waitInboundFlowing(25, 2000);
    const fromDesk = await e2e.rtpenginePacketsFrom(desk.process.options.mediaPort);
    note(`1: alice inbound +${before.grew}/2 s with A, +${after.grew}/2 s with the consulted desk phone; rtpengine got ${fromDesk} packets echoed by it`);
    expect(after.grew).toBeGreaterThanOrEqual(25);
    expect(fromDesk).toBeGreaterThanOrEqual(25);
    expect(await e2e.status()).toMatchObject({ calls: 1 });
    expect(await e2e.rtpengineSessions()).toBe(1);
    await alice.page.evaluate(() => window.gatewayPhone.hangup());
    expect((await desk.result).exitCode).toBe(0);
    await e2e.waitIdle();
  });

  it('browser as the consulted party: the first desk phone is moved into alice\'s rtpengine session', async () => {
    const e2e = fx.get();
    const consult = e2e.sipp({ scenario: { file: 'uac-call.xml' }, localPort: PHONES.sippuac2, target: '127.0.0.1:5060', calls: 1, extraArgs: ['-s', 'alice', '-rtp_echo'] });
    await answerAlice();
    await consult.waitForMessage(/^SIP\/2\.0 200 OK/m);
    const before = await alice.waitInboundFlowing(25, 2000);
    const desk = e2e.sipp({ scenario: { file: 'uas-answer-reinvite.xml' }, localPort: PHONES.desk, calls: 1, extraArgs: ['-rtp_echo'] });
    const transferor = transferorCalls(e2e, 'desk', consult, 2000);
    const refer = await transferor.result;
    expect(refer.exitCode, `${refer.output.slice(-1500)}\n${transferor.messages().slice(-3000)}`).toBe(0);
    expect((await consult.result).exitCode).toBe(0);
    const after = await alice.waitInboundFlowing(25, 2000);
    const fromDesk = await e2e.rtpenginePacketsFrom(desk.process.options.mediaPort);
    note(`2: alice inbound +${before.grew}/2 s with A, +${after.grew}/2 s with the transferred desk phone; rtpengine got ${fromDesk} packets echoed by it`);
    expect(after.grew).toBeGreaterThanOrEqual(25);
    expect(fromDesk).toBeGreaterThanOrEqual(25);
    expect(await e2e.rtpengineSessions()).toBe(1);
    await alice.page.evaluate(() => window.gatewayPhone.hangup());
    expect((await desk.result).exitCode).toBe(0);
    await e2e.waitIdle();
  });

  it('two browsers: alice (transferee) and bob (consulted) end up talking, each in its own rtpengine call, linked', async () => {
    const e2e = fx.get();
    const bob = await e2e.phone('bob');
    const consult = e2e.sipp({ scenario: { file: 'uac-call.xml' }, localPort: PHONES.sippuac2, target: '127.0.0.1:5060', calls: 1, extraArgs: ['-s', 'bob', '-rtp_echo'] });
    await answer(bob);
    await consult.waitForMessage(/^SIP\/2\.0 200 OK/m);
    const transferor = transferorCalls(e2e, 'alice', consult, 4000);
    await answerAlice();
    await alice.waitInboundFlowing(25, 2000);
    const refer = await transferor.result;
    expect(refer.exitCode, `${refer.output.slice(-1500)}\n${transferor.messages().slice(-3000)}`).toBe(0);
    expect((await consult.result).exitCode).toBe(0);
    // Both SIPp phones are gone: whatever the browsers now receive comes from each other.
    const [atAlice, atBob] = await Promise.all([alice.waitInboundFlowing(25, 2000), bob.waitInboundFlowing(25, 2000)]);
    note(`3: after the transfer alice inbound +${atAlice.grew}/2 s, bob inbound +${atBob.grew}/2 s`);
    expect(atAlice.grew).toBeGreaterThanOrEqual(25);
    expect(atBob.grew).toBeGreaterThanOrEqual(25);
    expect(await e2e.status()).toMatchObject({ calls: 1 });
    expect(await e2e.rtpengineSessions()).toBe(2); // the two calls, linked
    // A re-INVITE crosses both linked calls: hold and resume from alice. While it is on hold, bob
    // keeps hearing alice (sendonly) and alice hears nothing; both hear each other after the resume.
    // (Without media-gate.ts, bob's Chrome moves to a stray SSRC during the hold and hears nothing.)
    await alice.page.evaluate(() => window.gatewayPhone.hold());
    expect(await alice.callState()).toBe('held');
    await new Promise((r) => setTimeout(r, 1000)); // packets already in flight
    const [heldAtBob, heldAtAlice] = await Promise.all([bob.inboundOver(3000), alice.inboundOver(3000)]);
    await alice.page.evaluate(() => window.gatewayPhone.unhold());
    expect(await alice.callState()).toBe('active');
    const [resumedAlice, resumedBob] = await Promise.all([alice.waitInboundFlowing(25, 2000), bob.waitInboundFlowing(25, 2000)]);
    note(`3: held: bob +${heldAtBob.grew}/3 s, alice +${heldAtAlice.grew}/3 s; resumed: alice +${resumedAlice.grew}/2 s, bob +${resumedBob.grew}/2 s`);
    expect(heldAtBob.grew).toBeGreaterThanOrEqual(25);
    expect(heldAtAlice.grew).toBeLessThanOrEqual(3);
    expect(resumedAlice.grew).toBeGreaterThanOrEqual(25);
    expect(resumedBob.grew).toBeGreaterThanOrEqual(25);
    await alice.page.evaluate(() => window.gatewayPhone.hangup());
    await bob.waitCallState('idle');
    await e2e.waitIdle();
  }, 60_000);
});
