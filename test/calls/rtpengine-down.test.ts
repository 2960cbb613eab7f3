/**
 * No media server (issue point 9): a new call is refused quickly with 503 and Retry-After, and
 * nothing is left behind (no call in the app, no dialog in the engine). Two ways to lose rtpengine:
 * remote mode pointing at a port where nothing listens, and the app's local daemon dying while a
 * call is up (that call still ends cleanly on BYE).
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { header, statusOf } from '../engine/engine-fixture';
import { freeUdpPort, rtpengineMissing } from '../media/rtpengine-fixture';
import { sleep, startCallStack, until, type CallStack } from './call-fixture';
import { isRequest, type SipPhone } from './sip-phone';

describe('rtpengine configured remote, nothing listening', () => {
  let stack: CallStack;
  let desk1: SipPhone;
  let desk2: SipPhone;

  beforeAll(async () => {
    const dead = await freeUdpPort();
    stack = await startCallStack({
      phones: ['desk1', 'desk2'],
      rtpengine: { mode: 'remote', remote: [{ host: '127.0.0.1', port: dead }], timeoutMs: 200, retries: 1, healthIntervalMs: 2000 },
    });
    ({ desk1, desk2 } = stack.phones as Record<'desk1' | 'desk2', SipPhone>);
  });
  beforeEach(async () => stack.resetPhones());
  afterEach(async () => stack.assertClean(10_000, { rtpengineGone: true }));
  afterAll(async () => stack?.stop());

  it('a new call gets 503 with Retry-After at once; the callee never hears of it; nothing leaks', async () => {
    expect(stack.app.media.pool.metrics().healthyEngines).toBe(0);
    for (let i = 0; i < 2; i++) {
      const started = Date.now();
      desk1.invite('desk2');
      const res = await desk1.final();
      const elapsed = Date.now() - started;
      expect(statusOf(res)).toBe(503);
      expect(header(res, 'Retry-After')).toBe(String(stack.app.media.pool.retryAfterSeconds));
      expect(elapsed).toBeLessThan(1500);
      console.log(`rtpengine unreachable: 503 after ${elapsed} ms, Retry-After ${header(res, 'Retry-After')}`);
    }
    expect(stack.app.media.pool.metrics().noMediaServerRejections).toBe(2);
    await sleep(200);
    expect(desk2.received).toHaveLength(0);
    expect(stack.app.calls.size).toBe(0);
    expect(stack.running.engine.dialogs.size).toBe(0);
  });
});

describe.skipIf(rtpengineMissing)('the local rtpengine dies', () => {
  let stack: CallStack;
  let desk1: SipPhone;
  let desk2: SipPhone;
  let desk3: SipPhone;

  beforeAll(async () => {
    stack = await startCallStack({ phones: ['desk1', 'desk2', 'desk3'] });
    ({ desk1, desk2, desk3 } = stack.phones as Record<'desk1' | 'desk2' | 'desk3', SipPhone>);
  });
  afterAll(async () => stack?.stop());

  it('a new call gets 503 quickly; the call that was up still ends on BYE; nothing leaks', async () => {
    // a call is up, media flowing
    desk1.invite('desk2');
    await desk2.awaitInvite();
    desk2.answer();
    expect(statusOf(await desk1.final())).toBe(200);
    await desk2.next(isRequest('ACK'));
    desk1.rtp.startAudio();
    desk2.rtp.startAudio();
    await until(() => desk1.rtp.count() + desk2.rtp.count(), (n) => n > 20, 5000, 'media');

    await stack.app.media.localProcess!.stop();
    const started = Date.now();
    desk3.invite('desk2');
    const res = await desk3.final();
    const elapsed = Date.now() - started;
    expect(statusOf(res)).toBe(503);
    expect(Number(header(res, 'Retry-After'))).toBeGreaterThanOrEqual(1);
    // one offer's worth of ng retries at most (3 x 500 ms), or at once when a health ping noticed first
    expect(elapsed).toBeLessThan(3000);
    console.log(`local rtpengine killed: 503 after ${elapsed} ms`);
    // The app registers the call once srf resolves createUAS (after the ACK): wait for it.
    await until(() => stack.app.calls.size, (n) => n === 1, 5000, 'the call registered in the app');

    desk1.rtp.stopAudio();
    desk2.rtp.stopAudio();
    expect(statusOf(await desk1.transact('BYE'))).toBe(200);
    await desk2.next(isRequest('BYE'));
    await stack.assertClean(10_000, { rtpengineGone: true });
    expect(stack.app.media.pool.metrics().activeCalls).toBe(0);
  });
});
