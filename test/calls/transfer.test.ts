/**
 * Blind transfer (RFC 3515, RFC 5589 §6) through the B2BUA: desk2 REFERs desk1 to desk3. The
 * gateway calls desk3 with desk1's media (desk3 takes desk2's place in the same rtpengine call),
 * re-INVITEs desk1 toward it, reports to desk2 with NOTIFY (sipfrag 100 then 200) and hangs desk2
 * up. RTP then flows desk1 <-> desk3. A failed transfer gives desk1's media back to desk2.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { header, statusOf } from '../engine/engine-fixture';
import { rtpengineMissing } from '../media/rtpengine-fixture';
import { exchangeAudio, startCallStack, until, type CallStack } from './call-fixture';
import { bodyOf, isRequest, SipPhone } from './sip-phone';
import { client, register } from '../registrar/registrar-fixture';

describe.skipIf(rtpengineMissing)('blind transfer', () => {
  let stack: CallStack;
  let desk1: SipPhone;
  let desk2: SipPhone;
  let desk3: SipPhone;
  /** alice's two registered phones (not in config.phones). */
  let a1: SipPhone;
  let a2: SipPhone;

  beforeAll(async () => {
    stack = await startCallStack({ phones: ['desk1', 'desk2', 'desk3'], calls: { transferRingTimeoutSeconds: 2 } });
    ({ desk1, desk2, desk3 } = stack.phones as Record<'desk1' | 'desk2' | 'desk3', SipPhone>);
    a1 = await SipPhone.open('alice', stack.gatewayPort);
    a2 = await SipPhone.open('alice', stack.gatewayPort);
  });
  beforeEach(async () => {
    await stack.resetPhones();
    for (const p of [a1, a2]) await p.reset();
  });
  afterEach(async () => {
    for (const p of [desk1, desk2, desk3, a1, a2]) p.rtp.stopAudio();
    await stack.assertClean();
  });
  afterAll(async () => {
    for (const p of [a1, a2]) p?.close();
    await stack?.stop();
  });

  async function established(): Promise<void> {
    desk1.invite('desk2');
    await desk2.awaitInvite();
    desk2.answer();
    expect(statusOf(await desk1.final())).toBe(200);
    await desk2.next(isRequest('ACK'));
  }

  it('moves desk1 to desk3: NOTIFY 100/200 to the transferor, BYE to it, RTP desk1 <-> desk3', async () => {
    await established();
    const refer = await desk2.transact('REFER', { extra: `Refer-To: <sip:desk3@127.0.0.1>\r\nReferred-By: <sip:desk2@127.0.0.1>\r\n` });
    expect(statusOf(refer)).toBe(202);
    const trying = await desk2.next((m) => isRequest('NOTIFY')(m) && bodyOf(m).startsWith('SIP/2.0 100'));
    expect(header(trying, 'Event')).toBe(`refer;id=${parseInt(header(refer, 'CSeq')!, 10)}`); // RFC 3515 §2.4.6
    expect(header(trying, 'Content-Type')).toMatch(/^message\/sipfrag/);
    const invite = await desk3.awaitInvite();
    expect(header(invite, 'Referred-By')).toContain('desk2');
    desk3.answer();
    // desk1 is re-INVITEd toward the new session (the phone answers re-INVITEs itself).
    const reinvite = await desk1.next((m) => isRequest('INVITE')(m) && /;tag=/.test(header(m, 'To') ?? ''));
    expect(bodyOf(reinvite)).toContain('m=audio');
    const done = await desk2.next((m) => isRequest('NOTIFY')(m) && bodyOf(m).startsWith('SIP/2.0 200'));
    expect(header(done, 'Subscription-State')).toMatch(/^terminated/);
    await desk2.next(isRequest('BYE'));

    await talkThenHangUp(desk1, desk3);
  });

  /**
   * Once the app holds the (transferred or restored) call, RTP flows both ways between `x` and `y`;
   * then `x` hangs up and `y` gets the BYE.
   */
  async function talkThenHangUp(x: SipPhone, y: SipPhone): Promise<void> {
    // The app registers the call once srf resolves createUAS (after the ACK): wait for it.
    await until(() => stack.app.calls.size, (n) => n === 1, 5000, 'the call registered in the app');
    const flow = await exchangeAudio(x, y);
    expect(flow.a).toBeGreaterThan(30);
    expect(flow.b).toBeGreaterThan(30);
    expect(statusOf(await x.transact('BYE'))).toBe(200);
    await y.next(isRequest('BYE'));
  }

  /** a1 and a2 register as alice (digest over UDP); returns what unregisters them. */
  async function registerAlice(): Promise<(() => Promise<void>)[]> {
    const unregister: (() => Promise<void>)[] = [];
    for (const phone of [a1, a2]) {
      const c = client(phone, 'UDP', 'alice');
      expect(statusOf((await register(c, { expires: 300 })).res)).toBe(200);
      unregister.push(async () => void expect(statusOf((await register(c, { expires: 0 })).res)).toBe(200));
    }
    return unregister;
  }

  it('a target user whose contacts all refuse: the transferor hears the best status (486 over 480), the call stays', async () => {
    const unregister = await registerAlice();
    try {
      await established();
      expect(statusOf(await desk2.transact('REFER', { extra: `Refer-To: <sip:alice@127.0.0.1>\r\n` }))).toBe(202);
      await Promise.all([a1.awaitInvite(), a2.awaitInvite()]);
      a1.respond(486, 'Busy Here');
      await a1.next(isRequest('ACK'));
      a2.respond(480, 'Temporarily Unavailable'); // the last failure is not the best one
      await desk2.next((m) => isRequest('NOTIFY')(m) && bodyOf(m).startsWith('SIP/2.0 486'));
      await talkThenHangUp(desk1, desk2);
    } finally {
      for (const u of unregister) await u();
    }
  });

  it('a target user with two registered contacts: both ring with the same offer, the first 200 wins, the other is CANCELled', async () => {
    const unregister = await registerAlice();
    try {
      await established();
      expect(statusOf(await desk2.transact('REFER', { extra: `Refer-To: <sip:alice@127.0.0.1>\r\n` }))).toBe(202);
      const [inv1, inv2] = await Promise.all([a1.awaitInvite(), a2.awaitInvite()]);
      expect(bodyOf(inv1)).toBe(bodyOf(inv2)); // one new rtpengine party: the same offer to both
      a1.respond(180, 'Ringing');
      a2.answer();
      await a2.next(isRequest('ACK'));
      const cancel = await a1.next(isRequest('CANCEL'));
      expect(header(cancel, 'Call-ID')).toBe(header(inv1, 'Call-ID'));
      await a1.next(isRequest('ACK')); // the ACK of its 487
      expect(a1.all(isRequest('BYE'))).toHaveLength(0);
      await desk2.next((m) => isRequest('NOTIFY')(m) && bodyOf(m).startsWith('SIP/2.0 200'));
      await desk2.next(isRequest('BYE'));
      await talkThenHangUp(desk1, a2);
    } finally {
      for (const u of unregister) await u();
    }
  });

  it('after the transfer, hold and resume still work both ways (desk1 holds desk3, then resumes)', async () => {
    await established();
    expect(statusOf(await desk2.transact('REFER', { extra: `Refer-To: <sip:desk3@127.0.0.1>\r\n` }))).toBe(202);
    await desk3.awaitInvite();
    desk3.answer();
    await desk2.next(isRequest('BYE'));
    await until(() => stack.app.calls.size, (n) => n === 1, 5000, 'the transferred call registered in the app');
    const flow = async () => {
      const r = await exchangeAudio(desk1, desk3);
      return { toDesk1: r.a, toDesk3: r.b };
    };
    const hold = desk1.rtp.sdp({ payloadTypes: [0, 101], direction: 'sendonly' });
    expect(statusOf(await desk1.transact('INVITE', { body: hold }))).toBe(200);
    const held = await flow();
    expect(held.toDesk1).toBe(0); // desk1 does not want to receive while it holds
    expect(held.toDesk3).toBeGreaterThan(30);
    const resume = desk1.rtp.sdp({ payloadTypes: [0, 101], direction: 'sendrecv' });
    expect(statusOf(await desk1.transact('INVITE', { body: resume }))).toBe(200);
    const resumed = await flow();
    expect(resumed.toDesk1).toBeGreaterThan(30);
    expect(resumed.toDesk3).toBeGreaterThan(30);
    // The same from the target's side: its offers reach desk1 through the swapped session.
    const hold3 = desk3.rtp.sdp({ payloadTypes: [0, 101], direction: 'sendonly' });
    expect(statusOf(await desk3.transact('INVITE', { body: hold3 }))).toBe(200);
    const held3 = await flow();
    expect(held3.toDesk3).toBe(0);
    expect(held3.toDesk1).toBeGreaterThan(30);
    const resume3 = desk3.rtp.sdp({ payloadTypes: [0, 101], direction: 'sendrecv' });
    expect(statusOf(await desk3.transact('INVITE', { body: resume3 }))).toBe(200);
    const resumed3 = await flow();
    expect(resumed3.toDesk1).toBeGreaterThan(30);
    expect(resumed3.toDesk3).toBeGreaterThan(30);
    expect(statusOf(await desk1.transact('BYE'))).toBe(200);
    await desk3.next(isRequest('BYE'));
  });

  it('keeps the call when the target is busy and tells the transferor', async () => {
    await established();
    expect(statusOf(await desk2.transact('REFER', { extra: `Refer-To: <sip:desk3@127.0.0.1>\r\n` }))).toBe(202);
    await desk3.awaitInvite();
    desk3.respond(486, 'Busy Here');
    const failed = await desk2.next((m) => isRequest('NOTIFY')(m) && bodyOf(m).startsWith('SIP/2.0 486'));
    expect(header(failed, 'Subscription-State')).toMatch(/^terminated/);
    // rtpengine had already moved desk1's media toward desk3: it is back with desk2.
    await talkThenHangUp(desk1, desk2);
  });

  it('completes when the transferor hangs up right after the 202 (the transferee stays)', async () => {
    await established();
    expect(statusOf(await desk2.transact('REFER', { extra: `Refer-To: <sip:desk3@127.0.0.1>\r\n` }))).toBe(202);
    expect(statusOf(await desk2.transact('BYE'))).toBe(200);
    await desk3.awaitInvite();
    desk3.answer();
    await desk1.next((m) => isRequest('INVITE')(m) && /;tag=/.test(header(m, 'To') ?? ''));
    await talkThenHangUp(desk3, desk1);
  });

  it('CANCELs the ringing target when the transferee hangs up during the transfer', async () => {
    await established();
    expect(statusOf(await desk2.transact('REFER', { extra: `Refer-To: <sip:desk3@127.0.0.1>\r\n` }))).toBe(202);
    await desk3.awaitInvite();
    desk3.respond(180, 'Ringing');
    expect(statusOf(await desk1.transact('BYE'))).toBe(200);
    await desk3.next(isRequest('CANCEL')); // the phone answers 200 to it and 487 to its INVITE
    await desk2.next(isRequest('BYE'));
  });

  it('CANCELs a target that rings past the ring timeout (2 s here), NOTIFYs 408, and the call goes on', async () => {
    await established();
    expect(statusOf(await desk2.transact('REFER', { extra: `Refer-To: <sip:desk3@127.0.0.1>\r\n` }))).toBe(202);
    await desk3.awaitInvite();
    desk3.respond(180, 'Ringing');
    await desk3.next(isRequest('CANCEL'), 6000);
    const failed = await desk2.next((m) => isRequest('NOTIFY')(m) && bodyOf(m).startsWith('SIP/2.0 408'), 6000);
    expect(header(failed, 'Subscription-State')).toMatch(/^terminated/);
    await talkThenHangUp(desk1, desk2);
  });

  it('refuses a REFER to an address the gateway does not serve (no open relay)', async () => {
    await established();
    const res = await desk2.transact('REFER', { extra: `Refer-To: <sip:someone@198.51.100.7>\r\n` });
    expect(statusOf(res)).toBe(404);
    expect(statusOf(await desk1.transact('BYE'))).toBe(200);
    await desk2.next(isRequest('BYE'));
  });
});
