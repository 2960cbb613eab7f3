/**
 * End to end, browser → browser (issue 3 §5 c): two softphone tabs in one Chromium (inside the
 * test's namespace), alice and bob, both signed in over WSS. alice calls bob through the gateway;
 * the call is bridged through rtpengine (WebRTC on both legs). Both sides must hear the other's fake
 * microphone.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { e2eSuite, note, skipReason, type PhonePage } from './e2e-fixture.js';

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
