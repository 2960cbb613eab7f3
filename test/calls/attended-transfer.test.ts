/**
 * Attended transfer (RFC 5589 §7, Replaces per RFC 3891) through the B2BUA, with real rtpengine.
 * The transferor A has two calls: desk1 <-> A (call 1) and A <-> desk3 (call 2, the consultation).
 * A is played by two raw phones, desk2 on call 1 and desk4 on call 2 (a SipPhone holds one dialog;
 * the gateway only needs the REFER to name call 2's dialog, which is what a real phone sends).
 * desk2 REFERs desk1 to desk3 with Replaces naming desk4's dialog: the gateway joins desk1 and
 * desk3 (desk3 is re-INVITEd into call 1's rtpengine session, desk1 re-INVITEd toward it), NOTIFYs
 * desk2 (sipfrag 100, then 200) and hangs up both of A's dialogs. RTP then flows desk1 <-> desk3.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { header, statusOf } from '../engine/engine-fixture';
import { rtpengineMissing } from '../media/rtpengine-fixture';
import { exchangeAudio, startCallStack, until, type CallStack } from './call-fixture';
import { bodyOf, isRequest, type SipPhone } from './sip-phone';

describe.skipIf(rtpengineMissing)('attended transfer', () => {
  let stack: CallStack;
  let desk1: SipPhone;
  let desk2: SipPhone;
  let desk3: SipPhone;
  let desk4: SipPhone;

  beforeAll(async () => {
    stack = await startCallStack({ phones: ['desk1', 'desk2', 'desk3', 'desk4'] });
    ({ desk1, desk2, desk3, desk4 } = stack.phones as Record<'desk1' | 'desk2' | 'desk3' | 'desk4', SipPhone>);
  });
  beforeEach(async () => stack.resetPhones());
  afterEach(async () => {
    for (const p of [desk1, desk2, desk3, desk4]) p.rtp.stopAudio();
    await stack.assertClean();
  });
  afterAll(async () => stack?.stop());

  async function call(from: SipPhone, to: SipPhone): Promise<void> {
    from.invite(to.name);
    await to.awaitInvite();
    to.answer();
    expect(statusOf(await from.final())).toBe(200);
    await to.next(isRequest('ACK'));
  }

  /** call 1: desk1 -> desk2; call 2: desk4 -> desk3; both registered in the app. */
  async function twoCalls(): Promise<void> {
    await call(desk1, desk2);
    await call(desk4, desk3);
    await until(() => stack.app.calls.size, (n) => n === 2, 5000, 'both calls registered in the app');
  }

  /** Refer-To naming desk4's dialog (RFC 3891 §6.1, escaped as a URI header). */
  function referToConsultation(): string {
    const d = desk4.dialog!;
    const replaces = encodeURIComponent(`${d.callId};to-tag=${d.remoteTag};from-tag=${d.localTag}`);
    return `Refer-To: <sip:desk3@127.0.0.1?Replaces=${replaces}>\r\n`;
  }

  it('joins desk1 and desk3: NOTIFY 100/200, BYE to both of A\'s dialogs, RTP desk1 <-> desk3, one rtpengine session', async () => {
    await twoCalls();
    const refer = await desk2.transact('REFER', { extra: referToConsultation() });
    expect(statusOf(refer)).toBe(202);
    const trying = await desk2.next((m) => isRequest('NOTIFY')(m) && bodyOf(m).startsWith('SIP/2.0 100'));
    expect(header(trying, 'Event')).toBe(`refer;id=${parseInt(header(refer, 'CSeq')!, 10)}`); // RFC 3515 §2.4.6
    // desk3 is re-INVITEd into call 1's media session, then desk1 toward desk3.
    const moved = await desk3.next((m) => isRequest('INVITE')(m) && /;tag=/.test(header(m, 'To') ?? ''));
    expect(bodyOf(moved)).toMatch(/^a=sendrecv/m);
    await desk1.next((m) => isRequest('INVITE')(m) && /;tag=/.test(header(m, 'To') ?? ''));
    const done = await desk2.next((m) => isRequest('NOTIFY')(m) && bodyOf(m).startsWith('SIP/2.0 200'));
    expect(header(done, 'Subscription-State')).toMatch(/^terminated/);
    await desk2.next(isRequest('BYE'));
    await desk4.next(isRequest('BYE'));
    await until(() => stack.app.calls.size, (n) => n === 1, 5000, 'one joined call in the app');
    // Call 2's rtpengine session is gone; call 1's (named after desk1's Call-ID) carries the call.
    await until(() => stack.list(), (l) => l.length === 1, 5000, 'one rtpengine session');
    expect(await stack.list()).toEqual([desk1.dialog!.callId]);

    const flow = await exchangeAudio(desk1, desk3);
    expect(flow.a).toBeGreaterThan(30);
    expect(flow.b).toBeGreaterThan(30);

    expect(statusOf(await desk3.transact('BYE'))).toBe(200);
    await desk1.next(isRequest('BYE'));
  });

  it('resumes a held transferee: desk2 held desk1 before transferring, audio flows both ways afterwards', async () => {
    await twoCalls();
    const hold = desk2.rtp.sdp({ payloadTypes: [0, 101], direction: 'sendonly' });
    expect(statusOf(await desk2.transact('INVITE', { body: hold }))).toBe(200);
    expect(statusOf(await desk2.transact('REFER', { extra: referToConsultation() }))).toBe(202);
    await desk2.next((m) => isRequest('NOTIFY')(m) && bodyOf(m).startsWith('SIP/2.0 200'));
    await desk4.next(isRequest('BYE'));
    await until(() => stack.app.calls.size, (n) => n === 1, 5000, 'one joined call in the app');
    const flow = await exchangeAudio(desk1, desk3);
    expect(flow.a).toBeGreaterThan(30);
    expect(flow.b).toBeGreaterThan(30);
    expect(statusOf(await desk1.transact('BYE'))).toBe(200);
    await desk3.next(isRequest('BYE'));
  });

  it('keeps both calls when the consulted party refuses the re-INVITE, and tells the transferor', async () => {
    await twoCalls();
    desk3.onRequest = (req) => {
      if (!isRequest('INVITE')(req)) return false;
      desk3.reply(req, 488, 'Not Acceptable Here');
      return true;
    };
    expect(statusOf(await desk2.transact('REFER', { extra: referToConsultation() }))).toBe(202);
    const failed = await desk2.next((m) => isRequest('NOTIFY')(m) && bodyOf(m).startsWith('SIP/2.0 488'));
    expect(header(failed, 'Subscription-State')).toMatch(/^terminated/);
    desk3.onRequest = undefined;
    expect(stack.app.calls.size).toBe(2);
    // Call 1 still carries media between desk1 and desk2, call 2 between desk4 and desk3.
    const first = await exchangeAudio(desk1, desk2);
    expect(first.a).toBeGreaterThan(30);
    expect(first.b).toBeGreaterThan(30);
    const second = await exchangeAudio(desk4, desk3);
    expect(second.a).toBeGreaterThan(30);
    expect(second.b).toBeGreaterThan(30);
    expect(statusOf(await desk1.transact('BYE'))).toBe(200);
    await desk2.next(isRequest('BYE'));
    expect(statusOf(await desk4.transact('BYE'))).toBe(200);
    await desk3.next(isRequest('BYE'));
  });

  it('answers NOTIFY 481 when the Replaces names no call on the gateway, and the call goes on', async () => {
    await call(desk1, desk2);
    const replaces = encodeURIComponent('no-such-call@127.0.0.1;to-tag=1;from-tag=2');
    expect(statusOf(await desk2.transact('REFER', { extra: `Refer-To: <sip:desk3@127.0.0.1?Replaces=${replaces}>\r\n` }))).toBe(202);
    const failed = await desk2.next((m) => isRequest('NOTIFY')(m) && bodyOf(m).startsWith('SIP/2.0 481'));
    expect(header(failed, 'Subscription-State')).toMatch(/^terminated/);
    const flow = await exchangeAudio(desk1, desk2);
    expect(flow.a).toBeGreaterThan(30);
    expect(statusOf(await desk1.transact('BYE'))).toBe(200);
    await desk2.next(isRequest('BYE'));
  });

  it('refuses a malformed Replaces with 400', async () => {
    await call(desk1, desk2);
    const res = await desk2.transact('REFER', { extra: `Refer-To: <sip:desk3@127.0.0.1?Replaces=only-a-call-id>\r\n` });
    expect(statusOf(res)).toBe(400);
    expect(statusOf(await desk1.transact('BYE'))).toBe(200);
    await desk2.next(isRequest('BYE'));
  });
});
