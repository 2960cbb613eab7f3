/**
 * Mid-call signalling between two raw desk phones through the B2BUA and a real rtpengine, with RTP
 * counted in time windows: hold and resume by re-INVITE from either side (issue point 6), DTMF as
 * SIP INFO turned into RFC 4733 and RFC 4733 passed through (point 8), and an UPDATE with SDP from
 * the callee (point 10).
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { audioDirection, audioEndpoint } from '../../gateway/src/app/media/sdp-policy';
import { header, methodOf, statusOf } from '../engine/engine-fixture';
import { rtpengineMissing } from '../media/rtpengine-fixture';
import { sleep, startCallStack, until, type CallStack } from './call-fixture';
import { bodyOf, isRequest, mirrored, tagOf, type SipPhone } from './sip-phone';

describe.skipIf(rtpengineMissing)('mid-call requests between desk phones', () => {
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
    if (desk1.dialog && !desk1.dialog.terminated) {
      await desk1.transact('BYE').catch(() => undefined);
    }
    await stack.assertClean();
  });
  afterAll(async () => stack?.stop());

  /** desk1 calls desk2 (PCMU + telephone-event 101 offered, desk2 answers with te `calleeTe`); both talk. */
  async function establish(calleeTe = 101): Promise<{ toCaller: string; toCallee: string }> {
    desk1.invite('desk2');
    const invite = await desk2.awaitInvite();
    desk2.answer({ payloadTypes: [0, calleeTe], telephoneEventPt: calleeTe });
    const ok = await desk1.final();
    expect(statusOf(ok)).toBe(200);
    await desk2.next(isRequest('ACK'));
    desk1.rtp.startAudio();
    desk2.rtp.startAudio();
    await until(() => desk1.rtp.count() > 5 && desk2.rtp.count() > 5, (v) => v, 5000, 'media both ways');
    return { toCaller: bodyOf(ok), toCallee: bodyOf(invite) };
  }

  /** Packets each phone receives during `ms`, after letting `settleMs` pass. */
  async function window(ms = 800, settleMs = 300): Promise<{ atCaller: number; atCallee: number }> {
    await sleep(settleMs);
    const since = Date.now();
    await sleep(ms);
    return { atCaller: desk1.rtp.count(since, 0), atCallee: desk2.rtp.count(since, 0) };
  }

  for (const holder of ['caller', 'callee'] as const) {
    it(`hold and resume from the ${holder}: the other side gets the re-INVITE through rtpengine; media toward the holder stops, then resumes`, async () => {
      await establish();
      const [h, other] = holder === 'caller' ? [desk1, desk2] : [desk2, desk1];
      const before = await window();
      expect(before.atCaller).toBeGreaterThan(25);
      expect(before.atCallee).toBeGreaterThan(25);

      const hold = await h.transact('INVITE', { body: h.rtp.sdp({ direction: 'sendonly' }) });
      expect(statusOf(hold)).toBe(200);
      // RFC 3264 §8.4: the held side is offered sendonly (the holder still sends) and answers recvonly
      const reinvite = await other.next(isRequest('INVITE'));
      expect(audioDirection(bodyOf(reinvite))).toBe('sendonly');
      expect(audioEndpoint(bodyOf(reinvite)).port).not.toBe(h.rtp.port); // rtpengine's SDP, not the holder's
      expect(audioDirection(bodyOf(hold))).toBe('recvonly');
      const held = await window();
      const towardHolder = holder === 'caller' ? held.atCaller : held.atCallee;
      const towardHeld = holder === 'caller' ? held.atCallee : held.atCaller;
      expect(towardHolder).toBeLessThanOrEqual(2);
      expect(towardHeld).toBeGreaterThan(25); // music on hold still reaches the held party

      const resume = await h.transact('INVITE', { body: h.rtp.sdp({ direction: 'sendrecv' }) });
      expect(statusOf(resume)).toBe(200);
      expect(audioDirection(bodyOf(resume))).toBe('sendrecv');
      const reinvite2 = await other.next(isRequest('INVITE'));
      expect(audioDirection(bodyOf(reinvite2))).toBe('sendrecv');
      const resumed = await window();
      expect(resumed.atCaller).toBeGreaterThan(25);
      expect(resumed.atCallee).toBeGreaterThan(25);
      console.log(
        `hold by ${holder}: before ${before.atCaller}/${before.atCallee}, held toward holder ${towardHolder} toward held ${towardHeld}, ` +
          `resumed ${resumed.atCaller}/${resumed.atCallee} (caller/callee, 0.8 s windows)`,
      );
    });
  }

  it('refreshes without SDP: a re-INVITE gets the latest SDP the phone was given, an UPDATE none', async () => {
    await establish();
    const hold = await desk1.transact('INVITE', { body: desk1.rtp.sdp({ direction: 'sendonly' }) });
    expect(statusOf(hold)).toBe(200);
    await desk2.next(isRequest('INVITE'));
    const refresh = await desk1.transact('INVITE');
    expect(statusOf(refresh)).toBe(200);
    expect(bodyOf(refresh)).toBe(bodyOf(hold));
    expect(desk2.all(isRequest('INVITE'))).toHaveLength(2); // the initial one and the hold; no extra re-INVITE
    // an UPDATE without SDP (session refresh) gets a 200 without SDP (RFC 3311 §5.2)
    const refreshUpdate = await desk2.transact('UPDATE');
    expect(statusOf(refreshUpdate)).toBe(200);
    expect(bodyOf(refreshUpdate)).toBe('');
    expect(desk1.all(isRequest('UPDATE'))).toHaveLength(0);
  });

  it('DTMF INFO (application/dtmf-relay Signal=5) reaches the callee as RFC 4733 with its telephone-event PT', async () => {
    const { toCallee } = await establish(101);
    const te = audioEndpoint(toCallee).telephoneEventPt!;
    expect(te).toBe(101);
    const since = Date.now();
    const res = await desk1.transact('INFO', { body: 'Signal=5\r\nDuration=250\r\n', contentType: 'application/dtmf-relay' });
    expect(statusOf(res)).toBe(200);
    await until(() => desk2.rtp.received.filter((p) => p.at >= since && p.pt === te && (p.payload[1]! & 0x80) !== 0).length, (n) => n >= 1, 5000, 'end of event');
    await sleep(200);
    const events = desk2.rtp.received.filter((p) => p.at >= since && p.pt === te);
    expect(events.length).toBeGreaterThanOrEqual(5);
    expect(events.every((p) => p.payload[0] === 5)).toBe(true);
    expect(events[events.length - 1]!.payload[1]! & 0x80).toBe(0x80);
    expect(events[0]!.marker).toBe(true);
    expect(desk1.rtp.count(since, te)).toBe(0); // nothing echoed to the sender
    expect(desk2.all((m) => methodOf(m) === 'INFO')).toHaveLength(0); // played as RTP, not relayed as INFO
    console.log(`INFO Signal=5: callee got ${events.length} RFC 4733 packets (PT ${te}), ${events.filter((p) => p.payload[1]! & 0x80).length} with the end bit`);
  });

  it('RFC 4733 from the callee passes through to the caller with the caller\'s telephone-event PT', async () => {
    const { toCaller } = await establish(101);
    const te = audioEndpoint(toCaller).telephoneEventPt!;
    desk2.rtp.stopAudio();
    const since = Date.now();
    await desk2.rtp.sendDigit(101, 9, 200);
    desk2.rtp.startAudio();
    await until(() => desk1.rtp.count(since, te), (n) => n >= 5, 5000, 'RFC 4733 at the caller');
    await sleep(300);
    const events = desk1.rtp.received.filter((p) => p.at >= since && p.pt === te);
    expect(events.every((p) => p.payload[0] === 9)).toBe(true);
    expect(events.some((p) => (p.payload[1]! & 0x80) !== 0)).toBe(true);
    console.log(`RFC 4733 digit 9 from the callee: caller got ${events.length} telephone-event packets (PT ${te})`);
  });

  it('UPDATE with SDP from the callee reaches the caller through rtpengine; media keeps flowing', async () => {
    const { toCaller } = await establish();
    const update = await desk2.transact('UPDATE', { body: desk2.rtp.sdp() });
    expect(statusOf(update)).toBe(200);
    expect(bodyOf(update)).toMatch(/^m=audio \d+ RTP\/AVP/m);
    // the caller gets the offer as an UPDATE (what bridged-call.ts does for UPDATE), with rtpengine's SDP
    const atCaller = await desk1.next((m) => methodOf(m) === 'UPDATE' || methodOf(m) === 'INVITE');
    expect(methodOf(atCaller)).toBe('UPDATE');
    expect(header(atCaller, 'Content-Type')).toBe('application/sdp');
    expect(audioEndpoint(bodyOf(atCaller)).port).toBe(audioEndpoint(toCaller).port);
    expect(audioEndpoint(bodyOf(atCaller)).port).not.toBe(desk2.rtp.port);
    expect(audioEndpoint(bodyOf(update)).port).not.toBe(desk1.rtp.port);
    const after = await window();
    expect(after.atCaller).toBeGreaterThan(25);
    expect(after.atCallee).toBeGreaterThan(25);
    console.log(`after UPDATE: ${after.atCaller}/${after.atCallee} packets (caller/callee) in 0.8 s`);
  });

  const isReinvite = (m: string): boolean => methodOf(m) === 'INVITE' && tagOf(header(m, 'To')) !== undefined;

  it('a re-INVITE the other side refuses (488) reaches the offerer as 488; the call and its media carry on', async () => {
    await establish();
    desk2.onRequest = (req) => (isReinvite(req) ? (desk2.reply(req, 488, 'Not Acceptable Here'), true) : false);
    const refused = await desk1.transact('INVITE', { body: desk1.rtp.sdp({ payloadTypes: [8, 101] }) });
    expect(statusOf(refused)).toBe(488);
    await desk2.next(isRequest('ACK')); // the gateway ACKed desk2's 488
    const after = await window();
    expect(after.atCaller).toBeGreaterThan(25);
    expect(after.atCallee).toBeGreaterThan(25);
    desk2.onRequest = undefined;
    const again = await desk1.transact('INVITE', { body: desk1.rtp.sdp() });
    expect(statusOf(again)).toBe(200);
  });

  it('glare: a re-INVITE from the callee while the caller\'s is pending gets 491; the first one completes', async () => {
    await establish();
    let held: string | undefined;
    desk2.onRequest = (req) => (isReinvite(req) && !held ? ((held = req), true) : false);
    const first = desk1.request('INVITE', { body: desk1.rtp.sdp({ direction: 'sendonly' }) });
    await until(() => held, (h) => h !== undefined, 5000, 're-INVITE at the callee');
    const glare = await desk2.transact('INVITE', { body: desk2.rtp.sdp() });
    expect(statusOf(glare)).toBe(491);
    desk2.reply(held!, 200, 'OK', { body: desk2.rtp.sdp({ direction: mirrored(audioDirection(bodyOf(held!))) }), contact: desk2.contact });
    const ok = await desk1.final(first);
    expect(statusOf(ok)).toBe(200);
    expect(audioDirection(bodyOf(ok))).toBe('recvonly');
    await desk2.next(isRequest('ACK'));
  });

  it('UPDATE toward a caller that does not implement it (501) falls back to a re-INVITE', async () => {
    const { toCaller } = await establish();
    desk1.onRequest = (req) => (methodOf(req) === 'UPDATE' ? (desk1.reply(req, 501, 'Not Implemented'), true) : false);
    const update = await desk2.transact('UPDATE', { body: desk2.rtp.sdp() });
    expect(statusOf(update)).toBe(200);
    const reinvite = await desk1.next(isReinvite);
    expect(audioEndpoint(bodyOf(reinvite)).port).toBe(audioEndpoint(toCaller).port);
    const after = await window();
    expect(after.atCaller).toBeGreaterThan(25);
    expect(after.atCallee).toBeGreaterThan(25);
  });
});
