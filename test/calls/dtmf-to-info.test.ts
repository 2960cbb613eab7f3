/**
 * RFC 4733 -> SIP INFO (issue 3, DTMF) between raw desk phones through the real app and a real
 * rtpengine reporting digits on --dtmf-log-dest (on by default in local mode). A phone asks for DTMF
 * as INFO the RFC 6086 way: `Recv-Info: dtmf` in its INVITE (caller) or in its 200 (callee). Digits
 * the other phone sends as RFC 4733 then reach it as INFO (Info-Package: dtmf, application/dtmf-relay)
 * and still as RFC 4733; a phone that did not ask gets no INFO. Also: the asking phone's own digits
 * (RFC 4733 or INFO played by rtpengine) never come back to it as INFO, a refused INFO (481) does
 * not stop the next one, and the call that replaces another after a blind transfer converts too.
 *
 * "No INFO" is never asserted after a sleep: each such check follows a later digit in the other
 * direction that did arrive as INFO (rtpengine reports digits in order on one socket).
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { audioEndpoint } from '../../gateway/src/app/media/sdp-policy';
import { header, statusOf } from '../engine/engine-fixture';
import { rtpengineMissing } from '../media/rtpengine-fixture';
import { startCallStack, until, type CallStack } from './call-fixture';
import { bodyOf, isRequest, type SipPhone } from './sip-phone';

const ASK = 'Recv-Info: dtmf\r\n';
const TE = 101;

describe.skipIf(rtpengineMissing)('RFC 4733 -> SIP INFO toward phones that asked (Recv-Info: dtmf)', () => {
  let stack: CallStack;
  let desk1: SipPhone;
  let desk2: SipPhone;
  let desk3: SipPhone;

  beforeAll(async () => {
    stack = await startCallStack({ phones: ['desk1', 'desk2', 'desk3'] });
    ({ desk1, desk2, desk3 } = stack.phones as Record<'desk1' | 'desk2' | 'desk3', SipPhone>);
  });
  beforeEach(async () => stack.resetPhones());
  afterEach(async () => {
    for (const p of [desk1, desk2, desk3]) p.rtp.stopAudio();
    for (const p of [desk1, desk3]) if (p.dialog && !p.dialog.terminated) await p.transact('BYE').catch(() => undefined);
    await stack.assertClean();
  });
  afterAll(async () => stack?.stop());

  /** desk1 calls desk2, each asking or not; both talk (rtpengine paces and reports by the media it relays). */
  async function establish(ask: { caller?: boolean; callee?: boolean }): Promise<{ teAtCaller: number; teAtCallee: number; ok: string }> {
    desk1.invite('desk2', { extra: ask.caller ? ASK : '' });
    const invite = await desk2.awaitInvite();
    desk2.respond(200, 'OK', { sdp: desk2.rtp.sdp({ payloadTypes: [0, TE], telephoneEventPt: TE }), extra: ask.callee ? ASK : undefined });
    const ok = await desk1.final();
    expect(statusOf(ok)).toBe(200);
    await desk2.next(isRequest('ACK'));
    // srf resolves createUAS after the ACK: the call is in the registry (and observed) from then on.
    await until(() => stack.app.calls.size, (n) => n === 1, 5000, 'the call registered in the app');
    desk1.rtp.startAudio();
    desk2.rtp.startAudio();
    await until(() => desk1.rtp.count() > 5 && desk2.rtp.count() > 5, (v) => v, 5000, 'media both ways');
    return { teAtCaller: audioEndpoint(bodyOf(ok)).telephoneEventPt!, teAtCallee: audioEndpoint(bodyOf(invite)).telephoneEventPt!, ok };
  }

  /** One RFC 4733 digit from `phone` (audio paused meanwhile, as phones do). */
  async function press(phone: SipPhone, pt: number, event: number, durationMs = 200): Promise<void> {
    phone.rtp.stopAudio();
    await phone.rtp.sendDigit(pt, event, durationMs);
    phone.rtp.startAudio();
  }

  const infos = (phone: SipPhone): string[] => phone.all(isRequest('INFO'));
  const signals = (phone: SipPhone): string[] => infos(phone).map((m) => /^Signal=(.+)$/m.exec(bodyOf(m))?.[1]?.trim() ?? '?');
  const waitInfos = (phone: SipPhone, n: number, what: string): Promise<string[]> =>
    until(() => signals(phone), (s) => s.length >= n, 10_000, `${n} INFO at ${phone.name} (${what})`);

  it('the caller asked in its INVITE: the callee\'s RFC 4733 digits reach it as INFO, in order, and as RFC 4733 too', async () => {
    const { teAtCaller, teAtCallee, ok } = await establish({ caller: true });
    expect(header(ok, 'Recv-Info')).toBe('dtmf'); // RFC 6086 §5.2.2: the gateway's 200 answers with its own
    const since = Date.now();
    await press(desk2, teAtCallee, 1, 160);
    await press(desk2, teAtCallee, 11, 200);
    expect(await waitInfos(desk1, 2, '1 and #')).toEqual(['1', '#']);
    const [first, second] = infos(desk1);
    expect(header(first!, 'Content-Type')).toBe('application/dtmf-relay');
    expect(header(first!, 'Info-Package')).toBe('dtmf'); // RFC 6086: the package the phone announced
    expect(header(first!, 'Content-Disposition')).toBe('Info-Package');
    expect(bodyOf(first!)).toMatch(/^Signal=1\r\nDuration=160\r\n$/);
    expect(bodyOf(second!)).toMatch(/^Signal=#\r\nDuration=200\r\n$/);
    // Not suppressed: the RFC 4733 packets reached the caller as well.
    await until(() => desk1.rtp.received.filter((p) => p.at >= since && p.pt === teAtCaller && p.payload[0] === 11).length, (n) => n >= 3, 5000, 'RFC 4733 # at desk1');
    await until(() => stack.app.dtmfToInfo.stats, (st) => st.sent === 2, 5000, 'two INFO answered 200');
    expect(stack.app.dtmfToInfo.stats).toMatchObject({ calls: 1, sent: 2, refused: 0, failed: 0 });

    // desk1's own digits never come back to it as INFO: INFO from it (played by rtpengine as RFC 4733
    // toward desk2), then RFC 4733 from it. desk2 did not ask: it gets neither as INFO. (INFO first:
    // rtpengine 10.5 plays nothing from a leg once that leg has sent an RFC 4733 event itself.)
    expect(statusOf(await desk1.transact('INFO', { body: 'Signal=5\r\nDuration=200\r\n', contentType: 'application/dtmf-relay' }))).toBe(200);
    await until(() => desk2.rtp.received.filter((p) => p.pt === teAtCallee && p.payload[0] === 5 && (p.payload[1]! & 0x80) !== 0).length, (n) => n >= 1, 10_000, 'RFC 4733 5 (played) at desk2');
    await press(desk1, teAtCaller, 7);
    // A later digit from desk2 arrives as INFO: everything before it has been handled.
    await press(desk2, teAtCallee, 2);
    expect(await waitInfos(desk1, 3, 'then 2')).toEqual(['1', '#', '2']);
    expect(infos(desk2)).toHaveLength(0);
  });

  it('the callee asked in its 200: the caller\'s RFC 4733 digits reach it as INFO; the caller, which did not ask, gets none', async () => {
    const { teAtCaller, teAtCallee } = await establish({ callee: true });
    await press(desk2, teAtCallee, 3);
    await press(desk1, teAtCaller, 10);
    expect(await waitInfos(desk2, 1, '*')).toEqual(['*']);
    expect(header(infos(desk2)[0]!, 'Info-Package')).toBe('dtmf');
    await press(desk2, teAtCallee, 4);
    await press(desk1, teAtCaller, 9);
    expect(await waitInfos(desk2, 2, 'then 9')).toEqual(['*', '9']);
    expect(infos(desk1)).toHaveLength(0);
    // A digit desk1 sends as INFO is played toward desk2 as RFC 4733 (bridged-call.ts); rtpengine
    // reports it as desk1's, so desk2, which asked, gets it as INFO as well.
    expect(statusOf(await desk1.transact('INFO', { body: 'Signal=0\r\nDuration=200\r\n', contentType: 'application/dtmf-relay' }))).toBe(200);
    expect(await waitInfos(desk2, 3, 'then 0, played by rtpengine')).toEqual(['*', '9', '0']);
  });

  it('an INFO the phone refuses (481) is logged; the next digit still goes out and the call carries on', async () => {
    const { teAtCallee } = await establish({ caller: true });
    let refused = 0;
    desk1.onRequest = (req) => {
      if (!isRequest('INFO')(req) || refused > 0) return false;
      refused += 1;
      desk1.reply(req, 481, 'Call/Transaction Does Not Exist');
      return true;
    };
    const before = stack.app.dtmfToInfo.stats;
    await press(desk2, teAtCallee, 6);
    await press(desk2, teAtCallee, 8);
    expect(await waitInfos(desk1, 2, '6 refused, then 8')).toEqual(['6', '8']);
    await until(
      () => stack.app.dtmfToInfo.stats,
      (s) => s.refused === before.refused + 1 && s.sent === before.sent + 1,
      5000,
      'one more refused, one more sent',
    );
    expect(stack.app.calls.size).toBe(1);
    const since = Date.now();
    await until(() => desk1.rtp.count(since, 0), (n) => n > 10, 5000, 'audio still flowing to desk1');
  });

  it('after a blind transfer the new call converts for the transferee that asked: desk3\'s RFC 4733 reaches desk1 as INFO', async () => {
    await establish({ caller: true });
    expect(statusOf(await desk2.transact('REFER', { extra: 'Refer-To: <sip:desk3@127.0.0.1>\r\n' }))).toBe(202);
    const invite = await desk3.awaitInvite();
    desk3.respond(200, 'OK', { sdp: desk3.rtp.sdp({ payloadTypes: [0, TE], telephoneEventPt: TE }) });
    await desk1.next((m) => isRequest('INVITE')(m) && /;tag=/.test(header(m, 'To') ?? '')); // re-INVITE toward desk3
    await desk2.next(isRequest('BYE'));
    await until(() => stack.app.calls.all().map((c) => c.id), (ids) => ids.length === 1 && ids[0]!.includes('~desk3'), 5000, 'the transferred call registered');
    expect(stack.app.dtmfToInfo.stats.calls).toBe(1);
    desk3.rtp.startAudio();
    await until(() => desk3.rtp.count() > 5, (v) => v, 5000, 'media at desk3');
    await press(desk3, audioEndpoint(bodyOf(invite)).telephoneEventPt!, 4);
    expect(await waitInfos(desk1, 1, '4 from desk3')).toEqual(['4']);
    expect(infos(desk3)).toHaveLength(0);
    expect(statusOf(await desk1.transact('BYE'))).toBe(200);
    await desk3.next(isRequest('BYE'));
    await until(() => stack.app.dtmfToInfo.stats.calls, (n) => n === 0, 5000, 'the conversion stopped with the call');
  });
});
