/**
 * End to end, browser → browser (issue 3 §5 c): two softphone tabs in one Chromium (inside the
 * test's namespace), alice and bob, both signed in over WSS. alice calls bob through the gateway;
 * the call is bridged through rtpengine (WebRTC on both legs). Both sides must hear the other's fake
 * microphone.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { e2eSuite, note, skipReason, sleep, type PhonePage } from './e2e-fixture.js';

describe.skipIf(skipReason)(`e2e: browser calls browser${skipReason ? ` — SKIPPED: ${skipReason}` : ''}`, () => {
  const fx = e2eSuite('browser-to-browser');
  let alice: PhonePage;
  let bob: PhonePage;

  beforeAll(async () => {
    alice = await fx.get().phone('alice');
    bob = await fx.get().phone('bob');
  }, 90_000);

  it('c. alice calls bob (both browsers): both receive audio', async () => {
    const e2e = fx.get();
    expect((await e2e.status()).registrar.byTransport).toMatchObject({ WSS: 2 });
    await alice.startCall('bob');
    await bob.waitCallState('incoming');
    expect(await bob.page.locator('#incoming-from').textContent()).toContain('alice');
    await bob.page.evaluate(() => window.gatewayPhone.answer());
    expect(await alice.waitCallResult()).toBe('answered');

    const [atAlice, atBob] = await Promise.all([alice.waitInboundFlowing(25, 2000), bob.waitInboundFlowing(25, 2000)]);
    note(`c: alice inbound ${atAlice.first.packetsReceived} -> ${atAlice.second.packetsReceived} (+${atAlice.grew}/2 s, ${atAlice.second.codec}); bob inbound ${atBob.first.packetsReceived} -> ${atBob.second.packetsReceived} (+${atBob.grew}/2 s, ${atBob.second.codec})`);
    expect(atAlice.grew).toBeGreaterThanOrEqual(25);
    expect(atBob.grew).toBeGreaterThanOrEqual(25);
    const [heardByAlice, heardByBob] = await Promise.all([alice.waitAudible(), bob.waitAudible()]);
    note(`c: totalAudioEnergy at alice ${heardByAlice?.totalAudioEnergy}, at bob ${heardByBob?.totalAudioEnergy}`);
    // Media is anchored in rtpengine: each browser's ICE peer is rtpengine's port, not the other tab.
    expect(atAlice.second.remoteCandidate).toMatch(/^127\.0\.0\.1:/);
    expect(atAlice.second.remoteCandidate).not.toBe(atBob.second.localCandidate);
    expect((await e2e.status()).calls).toBe(1);
    expect(await e2e.rtpengineSessions()).toBe(1);

    // bob hangs up: BYE from the callee's side ends alice's call too.
    await bob.page.evaluate(() => window.gatewayPhone.hangup());
    await alice.waitCallState('idle');
    expect((await alice.shown()).lastCall).toContain('remote hung up');
    await e2e.waitIdle();
  });

  it('d. hold and resume between two browsers: media flows again both ways after alice resumes', async () => {
    const e2e = fx.get();
    await alice.startCall('bob');
    await bob.waitCallState('incoming');
    await bob.page.evaluate(() => window.gatewayPhone.answer());
    expect(await alice.waitCallResult()).toBe('answered');
    const before = await bob.waitInboundFlowing(25, 2000);
    await alice.page.evaluate(() => window.gatewayPhone.hold());
    expect(await alice.callState()).toBe('held');
    await sleep(1000); // packets already in flight
    const [held, heldAtAlice] = await Promise.all([bob.inboundOver(3000), alice.inboundOver(3000)]);
    await alice.page.evaluate(() => window.gatewayPhone.unhold());
    expect(await alice.callState()).toBe('active');
    const [atBob, atAlice] = await Promise.all([bob.waitInboundFlowing(25, 2000), alice.waitInboundFlowing(25, 2000)]);
    // While held, alice (a=sendonly) still sends and bob keeps receiving; what she receives stops.
    note(`d: bob inbound +${before.grew}/2 s before, +${held.grew}/3 s while alice held, +${atBob.grew}/2 s after; alice +${heldAtAlice.grew}/3 s held, +${atAlice.grew}/2 s after`);
    expect(held.grew).toBeGreaterThanOrEqual(25);
    expect(heldAtAlice.grew).toBeLessThanOrEqual(3);
    expect(atBob.grew).toBeGreaterThanOrEqual(25);
    expect(atAlice.grew).toBeGreaterThanOrEqual(25);
    await alice.page.evaluate(() => window.gatewayPhone.hangup());
    await bob.waitCallState('idle');
    await e2e.waitIdle();
  }, 60_000);

  it('c. a call bob declines (486) fails at alice with "Call failed: 486 Busy Here"', async () => {
    await alice.startCall('bob');
    await bob.waitCallState('incoming');
    await bob.page.evaluate(() => window.gatewayPhone.decline(486));
    expect(await alice.waitCallResult()).toBe('Call failed: 486 Busy Here');
    await fx.get().waitIdle();
  });

  it('i. afterwards: /api/status shows no calls and rtpengine holds no sessions', async () => {
    const e2e = fx.get();
    expect(await e2e.waitIdle()).toEqual({ calls: 0, sessions: 0 });
    expect((await e2e.status()).rtpengine.activeCalls).toBe(0);
  });
});
