/**
 * Calls to registered users and the failures a caller must see with their status (issue points 2
 * and 3): a user registered from two raw UDP phones (digest REGISTER) rings both at once, the first
 * 200 wins and the other branch is CANCELled (487), media flows to the winner only; unknown user
 * 404, no bindings 480, busy 486, INVITE from an unknown address 407 then digest, no SDP 488.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { audioEndpoint } from '../../gateway/src/app/media/sdp-policy';
import { header, methodOf, statusOf } from '../engine/engine-fixture';
import { rtpengineMissing } from '../media/rtpengine-fixture';
import { authorization, challenges, client, register } from '../registrar/registrar-fixture';
import { sleep, startCallStack, until, type CallStack } from './call-fixture';
import { bodyOf, isRequest, isResponse, SipPhone } from './sip-phone';

describe.skipIf(rtpengineMissing)('calls to registered users, and failures', () => {
  let stack: CallStack;
  let desk1: SipPhone;
  let desk2: SipPhone;
  /** Not in config.phones: alice's two registered phones and a stranger. */
  let a1: SipPhone;
  let a2: SipPhone;
  let stranger: SipPhone;

  beforeAll(async () => {
    stack = await startCallStack({ phones: ['desk1', 'desk2'] });
    ({ desk1, desk2 } = stack.phones as Record<'desk1' | 'desk2', SipPhone>);
    a1 = await SipPhone.open('alice', stack.gatewayPort);
    a2 = await SipPhone.open('alice', stack.gatewayPort);
    stranger = await SipPhone.open('stranger', stack.gatewayPort);
  });
  beforeEach(async () => {
    await stack.resetPhones();
    for (const p of [a1, a2, stranger]) await p.reset();
  });
  afterEach(async () => {
    for (const p of [desk1, desk2, a1, a2, stranger]) p.rtp.stopAudio();
    await stack.assertClean();
  });
  afterAll(async () => {
    for (const p of [a1, a2, stranger]) p?.close();
    await stack?.stop();
  });

  /** Registers a phone as alice with digest (MD5 over UDP); returns a function that unregisters it. */
  async function registerAlice(phone: SipPhone): Promise<() => Promise<void>> {
    const c = client(phone, 'UDP', 'alice');
    const { res } = await register(c, { expires: 300 });
    expect(statusOf(res)).toBe(200);
    return async () => {
      const { res: gone } = await register(c, { expires: 0 });
      expect(statusOf(gone)).toBe(200);
    };
  }

  it('all registered contacts ring at once; the first 200 wins, the other gets CANCEL and answers 487; media to the winner only', async () => {
    const unregister = [await registerAlice(a1), await registerAlice(a2)];
    expect(stack.app.registrar.lookup('alice')).toHaveLength(2);
    try {
      desk1.invite('alice');
      const [inv1, inv2] = await Promise.all([a1.awaitInvite(), a2.awaitInvite()]);
      // one rtpengine session per branch: each contact gets its own rtpengine port
      expect(audioEndpoint(bodyOf(inv1)).port).not.toBe(audioEndpoint(bodyOf(inv2)).port);
      expect(header(inv1, 'From')).toMatch(/<sip:desk1@/);
      expect((await stack.list()).length).toBe(2);
      a1.respond(180, 'Ringing');
      a2.respond(180, 'Ringing');
      await desk1.next(isResponse(180));
      a2.answer();
      const ok = await desk1.final();
      expect(statusOf(ok)).toBe(200);
      await a2.next(isRequest('ACK'));
      // the loser: CANCEL, its 487 ACKed by the engine; never a 200 or a BYE
      const cancel = await a1.next(isRequest('CANCEL'));
      expect(header(cancel, 'Call-ID')).toBe(header(inv1, 'Call-ID'));
      await a1.next(isRequest('ACK'));
      expect(a1.all((m) => methodOf(m) === 'BYE')).toHaveLength(0);
      const sessions = await until(() => stack.list(), (l) => l.length === 1, 5000, 'loser session deleted');
      // the session left is the winner's: rtpengine's port for it is the one offered to a2
      const query = await stack.query(sessions[0]!);
      const ports = Object.values(query.tags ?? {}).flatMap((t) => (t.medias ?? []).flatMap((m) => (m.streams ?? []).map((s) => s['local port'])));
      expect(ports).toContain(audioEndpoint(bodyOf(inv2)).port);
      expect(ports).not.toContain(audioEndpoint(bodyOf(inv1)).port);
      expect(desk1.all(isResponse(200))).toHaveLength(1);

      const since = Date.now();
      desk1.rtp.startAudio();
      a2.rtp.startAudio();
      a1.rtp.useRemoteSdp(bodyOf(inv1));
      a1.rtp.startAudio(); // the loser keeps talking into its dead session
      await sleep(1200);
      const got = { caller: desk1.rtp.count(since), winner: a2.rtp.count(since), loser: a1.rtp.count(since) };
      expect(got.caller).toBeGreaterThan(40);
      expect(got.winner).toBeGreaterThan(40);
      expect(got.loser).toBe(0);
      expect(new Set(desk1.rtp.received.map((p) => p.from))).toEqual(new Set([`127.0.0.1:${audioEndpoint(bodyOf(ok)).port}`]));
      console.log(`fork: caller got ${got.caller}, winner ${got.winner}, loser ${got.loser} RTP packets in 1.2 s`);
      expect(statusOf(await desk1.transact('BYE'))).toBe(200);
      await a2.next(isRequest('BYE'));
    } finally {
      for (const u of unregister) await u();
    }
  });

  it('the caller CANCELs while both contacts ring: both get CANCEL, the caller 487, both sessions go', async () => {
    const unregister = [await registerAlice(a1), await registerAlice(a2)];
    try {
      desk1.invite('alice');
      await Promise.all([a1.awaitInvite(), a2.awaitInvite()]);
      a1.respond(180, 'Ringing');
      await desk1.next(isResponse(180));
      expect(await stack.list()).toHaveLength(2);
      desk1.cancel();
      expect(statusOf(await desk1.final())).toBe(487);
      await Promise.all([a1.next(isRequest('CANCEL')), a2.next(isRequest('CANCEL'))]);
      await Promise.all([a1.next(isRequest('ACK')), a2.next(isRequest('ACK'))]); // their 487s ACKed
      await stack.assertClean();
    } finally {
      for (const u of unregister) await u();
    }
  });

  it('every contact failing gives the caller the best status: 486 over 480', async () => {
    const unregister = [await registerAlice(a1), await registerAlice(a2)];
    try {
      desk1.invite('alice');
      await Promise.all([a1.awaitInvite(), a2.awaitInvite()]);
      a1.respond(480, 'Temporarily Unavailable');
      await a1.next(isRequest('ACK'));
      a2.respond(486, 'Busy Here');
      expect(statusOf(await desk1.final())).toBe(486);
    } finally {
      for (const u of unregister) await u();
    }
  });

  it('unknown user: 404, and nothing is set up', async () => {
    desk1.invite('nobody');
    const res = await desk1.final();
    expect(statusOf(res)).toBe(404);
    expect(await stack.list()).toEqual([]);
  });

  it('a user with no bindings: 480', async () => {
    expect(stack.app.registrar.lookup('bob')).toEqual([]);
    desk1.invite('bob');
    expect(statusOf(await desk1.final())).toBe(480);
  });

  it('callee busy: 486 reaches the caller, the callee\'s 486 is ACKed', async () => {
    desk1.invite('desk2');
    await desk2.awaitInvite();
    desk2.respond(486, 'Busy Here');
    const res = await desk1.final();
    expect(statusOf(res)).toBe(486);
    await desk2.next(isRequest('ACK'));
  });

  it('INVITE without SDP: 488, and the callee never hears of it', async () => {
    desk1.invite('desk2', { sdp: null });
    expect(statusOf(await desk1.final())).toBe(488);
    await sleep(300);
    expect(desk2.received).toHaveLength(0);
  });

  it('an unknown source gets 407 with Proxy-Authenticate, then calls with digest credentials as alice', async () => {
    const callId = `stranger-${Date.now()}`;
    const first = stranger.invite('desk2', { callId, fromTag: 'st1' });
    const challenge = await stranger.final(first);
    expect(statusOf(challenge)).toBe(407);
    const offered = challenges(challenge, 'Proxy-Authenticate');
    expect(offered.map((c) => c.algorithm)).toEqual(['SHA-256', 'MD5']);
    expect(offered[0]!.realm).toBe(stack.config.realm);
    expect(desk2.received).toHaveLength(0);

    const ruri = `sip:desk2@127.0.0.1:${stack.gatewayPort}`;
    const auth = authorization(offered[0]!, { user: 'alice', method: 'INVITE', uri: ruri });
    stranger.invite('desk2', { callId, fromTag: 'st1', cseq: 2, extra: `Proxy-Authorization: ${auth}\r\n` });
    const invite = await desk2.awaitInvite();
    expect(header(invite, 'From')).toMatch(/<sip:alice@/); // the authenticated identity
    desk2.answer();
    const ok = await stranger.final();
    expect(statusOf(ok)).toBe(200);
    await desk2.next(isRequest('ACK'));
    const since = Date.now();
    stranger.rtp.startAudio();
    desk2.rtp.startAudio();
    await sleep(800);
    expect(stranger.rtp.count(since)).toBeGreaterThan(25);
    expect(desk2.rtp.count(since)).toBeGreaterThan(25);
    expect(statusOf(await desk2.transact('BYE'))).toBe(200);
    await stranger.next(isRequest('BYE'));
  });

  it('wrong digest password: 403, nothing set up', async () => {
    const first = stranger.invite('desk2', { fromTag: 'st2' });
    const challenge = await stranger.final(first);
    const [sha] = challenges(challenge, 'Proxy-Authenticate');
    const ruri = `sip:desk2@127.0.0.1:${stack.gatewayPort}`;
    const auth = authorization(sha!, { user: 'alice', password: 'wrong', method: 'INVITE', uri: ruri });
    stranger.invite('desk2', { callId: header(first, 'Call-ID'), fromTag: 'st2', cseq: 2, extra: `Proxy-Authorization: ${auth}\r\n` });
    expect(statusOf(await stranger.final())).toBe(403);
    expect(desk2.received).toHaveLength(0);
  });
});
