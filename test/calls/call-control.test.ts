/**
 * Call control on the wire between two raw desk phones through the B2BUA and a real rtpengine:
 * a basic call with RTP both ways, BYE from either side (issue point 5), CANCEL before the answer
 * (point 4) and early media (183 with SDP and RTP before the 200, point 7). After every test the
 * engine has no dialogs, the app no calls and rtpengine no sessions.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { audioEndpoint } from '../../gateway/src/app/media/sdp-policy';
import { header, methodOf, statusOf } from '../engine/engine-fixture';
import { rtpengineMissing } from '../media/rtpengine-fixture';
import { sleep, startCallStack, until, type CallStack } from './call-fixture';
import { RtpPhone } from '../media/rtp-phone';
import { bodyOf, isRequest, isResponse, type SipPhone } from './sip-phone';

describe.skipIf(rtpengineMissing)('call control between desk phones', () => {
  let stack: CallStack;
  let desk1: SipPhone;
  let desk2: SipPhone;

  beforeAll(async () => {
    stack = await startCallStack({ phones: ['desk1', 'desk2'] });
    ({ desk1, desk2 } = stack.phones as Record<'desk1' | 'desk2', SipPhone>);
  });
  beforeEach(async () => stack.resetPhones());
  afterEach(async () => {
    desk1.rtp.stopAudio();
    desk2.rtp.stopAudio();
    await stack.assertClean();
  });
  afterAll(async () => stack?.stop());

  /** desk1 calls desk2, desk2 rings and answers; returns the SDP each phone got from rtpengine. */
  async function establish(): Promise<{ toCaller: string; toCallee: string }> {
    desk1.invite('desk2');
    const invite = await desk2.awaitInvite();
    expect(header(invite, 'From')).toMatch(/<sip:desk1@/);
    desk2.respond(180, 'Ringing');
    await desk1.next(isResponse(180));
    desk2.answer();
    const ok = await desk1.final();
    expect(statusOf(ok)).toBe(200);
    await desk2.next(isRequest('ACK'));
    return { toCaller: bodyOf(ok), toCallee: bodyOf(invite) };
  }

  /** Both phones talk for `ms`; returns what each received from rtpengine in that window. */
  async function talk(ms: number): Promise<{ toCaller: number; toCallee: number }> {
    const since = Date.now();
    desk1.rtp.startAudio();
    desk2.rtp.startAudio();
    await sleep(ms);
    desk1.rtp.stopAudio();
    desk2.rtp.stopAudio();
    await sleep(100);
    return { toCaller: desk1.rtp.count(since, 0), toCallee: desk2.rtp.count(since, 0) };
  }

  it('a basic call: rtpengine in the SDP both ways, RTP both ways, BYE from the caller reaches the callee', async () => {
    const { toCaller, toCallee } = await establish();
    // each phone was handed an rtpengine port, never the other phone's
    expect(audioEndpoint(toCaller).port).not.toBe(desk2.rtp.port);
    expect(audioEndpoint(toCallee).port).not.toBe(desk1.rtp.port);
    // The app registers the call once srf resolves createUAS (after the ACK): wait for it.
    await until(() => stack.app.calls.size, (n) => n === 1, 5000, 'the call registered in the app');
    const [callId] = await stack.list();
    expect(callId).toBe(header(desk1.outgoing!, 'Call-ID'));

    const got = await talk(1500);
    expect(got.toCaller).toBeGreaterThan(50);
    expect(got.toCallee).toBeGreaterThan(50);
    const from = `${audioEndpoint(toCaller).address}:${audioEndpoint(toCaller).port}`;
    expect(new Set(desk1.rtp.received.map((p) => p.from))).toEqual(new Set([from]));

    const bye = await desk1.transact('BYE');
    expect(statusOf(bye)).toBe(200);
    const byeToCallee = await desk2.next(isRequest('BYE'));
    expect(header(byeToCallee, 'Call-ID')).toBe(desk2.dialog!.callId);
    await stack.assertClean();
    console.log(`basic call: caller got ${got.toCaller}, callee got ${got.toCallee} RTP packets in 1.5 s`);
  });

  it('BYE from the callee reaches the caller; the session is deleted and media stops', async () => {
    await establish();
    await talk(600);
    const bye = await desk2.transact('BYE');
    expect(statusOf(bye)).toBe(200);
    const byeToCaller = await desk1.next(isRequest('BYE'));
    expect(header(byeToCaller, 'Call-ID')).toBe(desk1.dialog!.callId);
    await stack.assertClean();
    // nothing is relayed any more
    const after = await talk(500);
    expect(after.toCaller + after.toCallee).toBe(0);
  });

  it('CANCEL before the answer: the callee gets CANCEL and answers 487, the caller gets 487', async () => {
    desk1.invite('desk2');
    await desk2.awaitInvite();
    desk2.respond(180, 'Ringing');
    await desk1.next(isResponse(180));
    expect(await stack.list()).toHaveLength(1);
    desk1.cancel();
    const cancelOk = await desk1.next(isResponse(200, 'CANCEL'));
    expect(statusOf(cancelOk)).toBe(200);
    const final = await desk1.final();
    expect(statusOf(final)).toBe(487);
    const cancel = await desk2.next(isRequest('CANCEL'));
    expect(methodOf(cancel)).toBe('CANCEL');
    // desk2 answered 487 (sip-phone does on CANCEL) and the engine ACKs it
    await desk2.next(isRequest('ACK'));
    await stack.assertClean();
    expect(desk2.all((m) => statusOf(m) === 0 && methodOf(m) === 'BYE')).toHaveLength(0);
  });

  it('CANCEL while the callee is still silent (no 180 yet) ends everything just the same', async () => {
    desk1.invite('desk2');
    await desk2.awaitInvite();
    desk1.cancel();
    expect(statusOf(await desk1.final())).toBe(487);
    await desk2.next(isRequest('CANCEL'));
    await stack.assertClean();
  });

  it('early media: 183 with rtpengine SDP and RTP before the 200; the call then works both ways', async () => {
    desk1.invite('desk2');
    const invite = await desk2.awaitInvite();
    const early = desk2.rtp.sdp();
    desk2.respond(183, 'Session Progress', { sdp: early });
    const p183 = await desk1.next(isResponse(183));
    const toCaller = bodyOf(p183);
    expect(toCaller).toMatch(/^m=audio \d+ RTP\/AVP/m);
    expect(audioEndpoint(toCaller).port).not.toBe(desk2.rtp.port); // rtpengine's port, not the phone's
    // the callee plays a ringback/announcement before answering
    const since = Date.now();
    desk2.rtp.startAudio();
    await until(() => desk1.rtp.count(since, 0), (n) => n >= 25, 5000, 'early media at the caller');
    const earlyPackets = desk1.rtp.count(since, 0);
    expect(desk1.all(isResponse(200))).toHaveLength(0); // still no 200
    desk2.rtp.stopAudio();

    desk2.respond(200, 'OK', { sdp: early });
    const ok = await desk1.final();
    expect(statusOf(ok)).toBe(200);
    expect(audioEndpoint(bodyOf(ok)).port).toBe(audioEndpoint(toCaller).port);
    await desk2.next(isRequest('ACK'));
    expect(header(invite, 'Call-ID')).toBe(desk2.dialog!.callId);
    const got = await talk(1000);
    expect(got.toCaller).toBeGreaterThan(30);
    expect(got.toCallee).toBeGreaterThan(30);
    console.log(`early media: caller got ${earlyPackets} packets before the 200, then ${got.toCaller}/${got.toCallee} both ways`);
    expect(statusOf(await desk1.transact('BYE'))).toBe(200);
    await desk2.next(isRequest('BYE'));
  });

  it('early media from one RTP address, then a 200 with other SDP: the 200 goes through rtpengine again and media follows it', async () => {
    desk1.invite('desk2');
    await desk2.awaitInvite();
    const announcement = desk2.rtp;
    desk2.respond(183, 'Session Progress', { sdp: announcement.sdp() });
    const toCaller = bodyOf(await desk1.next(isResponse(183)));
    announcement.startAudio();
    await until(() => desk1.rtp.count(), (n) => n >= 10, 5000, 'early media');
    announcement.stopAudio();
    // the phone itself answers from another socket
    desk2.rtp = await RtpPhone.open('desk2-answer');
    desk2.respond(200, 'OK', { sdp: desk2.rtp.sdp({ sessionVersion: 7 }) });
    const ok = await desk1.final();
    expect(statusOf(ok)).toBe(200);
    // rtpengine's SDP again (it may move the caller to a new port: the 200 is the answer that counts)
    expect([announcement.port, desk2.rtp.port]).not.toContain(audioEndpoint(bodyOf(ok)).port);
    expect(audioEndpoint(bodyOf(ok)).address).toBe(audioEndpoint(toCaller).address);
    await desk2.next(isRequest('ACK'));
    const got = await talk(1000);
    expect(got.toCallee).toBeGreaterThan(30); // at the answering socket, not the announcement's
    expect(got.toCaller).toBeGreaterThan(30);
    expect(announcement.count(Date.now() - 1000)).toBe(0);
    announcement.close();
    expect(statusOf(await desk2.transact('BYE'))).toBe(200);
    await desk1.next(isRequest('BYE'));
  });
});
