/**
 * End to end, DTMF (issue 3 §5 e): the browser sends digits as SIP INFO (application/dtmf-relay,
 * gatewayPhone.sendDtmf(d, 'info')); the gateway has rtpengine play them as RFC 4733
 * telephone-events toward the desk phone. SIPp cannot assert RTP payloads, so the desk phone here
 * is desk-phone.cjs: a minimal SIP UAS plus a dgram socket that sends PCMU and decodes every
 * telephone-event packet it receives (static phone `dtmfdesk` at 127.0.0.1:5082).
 *
 * The other way (issue 3, "RFC 4733 toward a browser that asked for INFO is converted"): a page
 * that asks for DTMF as INFO (gatewayPhone.setDtmfReceive('info') or ?dtmf=info; it sends
 * `Recv-Info: dtmf` in its INVITE or 200, RFC 6086) gets the far end's RFC 4733 digits as SIP INFO;
 * a page that did not ask gets none. The desk phone sends real RFC 4733 events (desk-phone.cjs
 * `digit`), the browsers through RTCDTMFSender; rtpengine reports them on --dtmf-log-dest.
 * "Gets none" is checked after a later digit in the other direction did arrive as INFO (rtpengine
 * reports in order, the gateway handles a call's digits in order), never after a sleep.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { PAGE_URL, PASSWORDS, PHONES, WSS_URL, e2eSuite, note, skipReason, until, type DeskPhone, type DeskPhoneLine, type PhonePage } from './e2e-fixture.js';

const RTP_PORT = 40_000;

describe.skipIf(skipReason)(`e2e: DTMF between the browser and desk phones, both ways${skipReason ? ` — SKIPPED: ${skipReason}` : ''}`, () => {
  const fx = e2eSuite('dtmf');
  let alice: PhonePage;
  let desk: DeskPhone;

  beforeAll(async () => {
    alice = await fx.get().phone('alice');
    desk = await fx.get().deskPhone(PHONES.dtmfdesk, RTP_PORT);
  }, 60_000);

  const events = (digitCode: number): DeskPhoneLine[] => desk.lines.filter((l) => l.type === 'dtmf' && l.event === digitCode);

  /** Waits for the end packets of one RFC 4733 event at the desk phone and summarises them. */
  async function eventArrives(code: number): Promise<{ packets: number; ends: number; pt: number; volume: number; duration: number }> {
    await desk.waitFor((l) => l.type === 'dtmf' && l.event === code && l.end === true, 15_000, `RFC 4733 event ${code} (end) at the desk phone`);
    await new Promise((resolve) => setTimeout(resolve, 300)); // the redundant end packets
    const all = events(code);
    const last = all.filter((l) => l.end === true).at(-1)!;
    return { packets: all.length, ends: all.filter((l) => l.end === true).length, pt: last.pt as number, volume: last.volume as number, duration: last.duration as number };
  }

  it('e. DTMF sent as SIP INFO by the browser arrives at the desk phone as RFC 4733 telephone-events', async () => {
    const e2e = fx.get();
    await alice.startCall('dtmfdesk');
    expect(await alice.waitCallResult()).toBe('answered');
    const invite = await desk.waitFor((l) => l.type === 'invite', 10_000, 'the INVITE at the desk phone');
    const offeredTe = Number(/^a=rtpmap:(\d+) telephone-event\/8000/m.exec(String(invite.offer))?.[1]);
    expect(offeredTe).toBeGreaterThan(95); // the browser's telephone-event/8000, passed on by rtpengine

    // Audio both ways first (rtpengine paces injected DTMF by the audio it relays).
    const flow = await alice.waitInboundFlowing(25, 2000);
    const audio = await desk.stats();
    note(`e: alice inbound +${flow.grew} in 2 s; desk phone received ${JSON.stringify(audio.received)}, sent ${audio.sent}`);
    expect(audio.received['0'] ?? 0).toBeGreaterThan(25);

    await alice.page.evaluate(() => window.gatewayPhone.sendDtmf('5', 'info'));
    const five = await eventArrives(5);
    note(`e: INFO '5' -> ${five.packets} telephone-event packets (PT ${five.pt}, ${five.ends} with the end bit, volume ${five.volume}, duration ${five.duration})`);
    expect(five.pt).toBe(offeredTe);
    expect(five.packets).toBeGreaterThanOrEqual(3);
    expect(five.ends).toBeGreaterThanOrEqual(1);

    await alice.page.evaluate(() => window.gatewayPhone.sendDtmf('#', 'info'));
    const pound = await eventArrives(11);
    note(`e: INFO '#' -> ${pound.packets} telephone-event packets (event 11, ${pound.ends} end)`);
    expect(pound.pt).toBe(offeredTe);

    // Through the keypad as a person would: INFO is the page's default mode.
    await alice.page.click('#keypad button[data-digit="9"]');
    const nine = await eventArrives(9);
    note(`e: keypad '9' (INFO) -> ${nine.packets} telephone-event packets`);
    // Only the digits sent: nothing else was played.
    const codes = [...new Set(desk.lines.filter((l) => l.type === 'dtmf').map((l) => l.event))];
    expect(codes).toEqual([5, 11, 9]);
    const dtmfLog = await alice.events('dtmf');
    expect(dtmfLog).toEqual(['5 (INFO)', '# (INFO)', '9 (INFO)']);

    await alice.page.evaluate(() => window.gatewayPhone.hangup());
    await desk.waitFor((l) => l.type === 'bye', 10_000, 'BYE at the desk phone');
    await e2e.waitIdle();
  });

  it('e. RFC 4733 sent by the browser (RTCDTMFSender) reaches the desk phone as RFC 4733', async () => {
    const e2e = fx.get();
    await alice.startCall('dtmfdesk');
    expect(await alice.waitCallResult()).toBe('answered');
    await alice.waitInboundFlowing(25, 2000);
    const before = desk.lines.length;
    await alice.page.evaluate(() => window.gatewayPhone.sendDtmf('7', 'rfc4733'));
    await until(() => desk.lines.slice(before).filter((l) => l.type === 'dtmf' && l.event === 7 && l.end === true).length, (n) => n > 0, 15_000, 'event 7 at the desk phone');
    note(`e: RFC 4733 '7' from the browser -> ${desk.lines.slice(before).filter((l) => l.type === 'dtmf' && l.event === 7).length} telephone-event packets at the desk phone`);
    await alice.page.evaluate(() => window.gatewayPhone.hangup());
    await desk.waitFor((l) => l.type === 'bye' && desk.lines.indexOf(l) > before, 10_000, 'BYE at the desk phone');
    await e2e.waitIdle();
  });

  it('e. RFC 4733 from the desk phone reaches a browser that asked for INFO (Recv-Info: dtmf) as SIP INFO, in order', async () => {
    const e2e = fx.get();
    await alice.page.evaluate(() => window.gatewayPhone.setDtmfReceive('info'));
    const before = desk.lines.length;
    await alice.startCall('dtmfdesk');
    expect(await alice.waitCallResult()).toBe('answered');
    await alice.waitInboundFlowing(25, 2000);
    for (const event of [1, 2, 11]) await desk.sendDigit(event, 200);
    expect(await alice.waitReceivedDtmf(3)).toEqual(['1', '2', '#']);
    const received = await alice.page.evaluate(() => window.gatewayPhone.receivedDtmf);
    note(`e: desk phone RFC 4733 1, 2, # -> INFO at alice: ${JSON.stringify(received.map((d) => `${d.digit}/${d.durationMs}ms`))}`);
    expect(received.every((d) => d.durationMs === 200)).toBe(true);
    // What a person sees: the received digits on the page.
    await until(() => alice.page.locator('#dtmf-received').getAttribute('data-digits'), (v) => v === '12#', 5000, 'received digits on the page');
    expect(await alice.page.locator('#dtmf-received').textContent()).toBe('1 2 #');
    expect((await alice.events('dtmf-received')).slice(-3)).toEqual(['1 (INFO)', '2 (INFO)', '# (INFO)']);
    expect(await alice.page.locator('#dtmf-receive').inputValue()).toBe('info');

    await alice.page.evaluate(() => window.gatewayPhone.hangup());
    await desk.waitFor((l) => l.type === 'bye' && desk.lines.indexOf(l) >= before, 10_000, 'BYE at the desk phone');
    await e2e.waitIdle();
  });

  it('e. a browser that did not ask gets no INFO for the desk phone\'s RFC 4733 (the desk phone, which asked in its 200, gets the browser\'s)', async () => {
    const e2e = fx.get();
    await alice.page.evaluate(() => window.gatewayPhone.setDtmfReceive('rfc4733'));
    desk.setRecvInfo('dtmf');
    try {
      const before = desk.lines.length;
      await alice.startCall('dtmfdesk');
      expect(await alice.waitCallResult()).toBe('answered');
      await alice.waitInboundFlowing(25, 2000);
      await desk.sendDigit(7, 200);
      await alice.page.evaluate(() => window.gatewayPhone.sendDtmf('8', 'rfc4733'));
      const info = await desk.waitFor((l) => l.type === 'request' && l.method === 'INFO' && desk.lines.indexOf(l) >= before, 15_000, 'INFO at the desk phone');
      note(`e: browser RFC 4733 '8' -> INFO at the desk phone: ${JSON.stringify(info.body)} (Info-Package: ${String(info.infoPackage)})`);
      expect(info.contentType).toBe('application/dtmf-relay');
      expect(info.infoPackage).toBe('dtmf');
      expect(String(info.body)).toMatch(/^Signal=8\r\nDuration=\d+/);
      // The desk phone's 7 was handled before the browser's 8: alice, which did not ask, got nothing.
      expect(await alice.receivedDtmf()).toEqual([]);
      expect(await alice.page.locator('#dtmf-received').getAttribute('data-digits')).toBe('');
      await alice.page.evaluate(() => window.gatewayPhone.hangup());
      await desk.waitFor((l) => l.type === 'bye' && desk.lines.indexOf(l) >= before, 10_000, 'BYE at the desk phone');
      await e2e.waitIdle();
    } finally {
      desk.setRecvInfo(undefined);
    }
  });

  it('e. browser to browser: bob opened the page with ?dtmf=info and answers asking for INFO; alice\'s RFC 4733 reaches him as INFO, his does not reach her', async () => {
    const e2e = fx.get();
    await alice.page.evaluate(() => window.gatewayPhone.setDtmfReceive('rfc4733'));
    const bob = await e2e.phone('bob');
    // Sign out cleanly (no stale binding), then the page as a person opens it: with ?dtmf=info.
    await bob.page.evaluate(() => window.gatewayPhone.unregister());
    await bob.page.goto(`${PAGE_URL}?dtmf=info`);
    await bob.page.waitForSelector('html[data-ready="true"]');
    expect(await bob.page.evaluate(() => window.gatewayPhone.dtmfReceive)).toBe('info');
    expect(await bob.page.locator('#dtmf-receive').inputValue()).toBe('info');
    await bob.page.evaluate((o) => window.gatewayPhone.register(o), { server: WSS_URL, user: 'bob', password: PASSWORDS.bob });

    await alice.startCall('bob');
    await bob.waitCallState('incoming');
    await bob.page.evaluate(() => window.gatewayPhone.answer());
    expect(await alice.waitCallResult()).toBe('answered');
    await Promise.all([alice.waitInboundFlowing(25, 2000), bob.waitInboundFlowing(25, 2000)]);

    await alice.page.evaluate(() => window.gatewayPhone.sendDtmf('3', 'rfc4733'));
    expect(await bob.waitReceivedDtmf(1)).toEqual(['3']);
    await bob.page.evaluate(() => window.gatewayPhone.sendDtmf('4', 'rfc4733'));
    await alice.page.evaluate(() => window.gatewayPhone.sendDtmf('6', 'rfc4733'));
    expect(await bob.waitReceivedDtmf(2)).toEqual(['3', '6']);
    expect(await alice.receivedDtmf()).toEqual([]);
    await until(() => bob.page.locator('#dtmf-received').textContent(), (v) => v === '3 6', 5000, 'received digits on bob\'s page');
    note(`e: alice RFC 4733 3, 6 -> INFO at bob ${JSON.stringify(await bob.receivedDtmf())}; bob's 4 -> nothing at alice`);

    await bob.page.evaluate(() => window.gatewayPhone.hangup());
    await alice.waitCallState('idle');
    await e2e.waitIdle();
  });

  it('i. afterwards: /api/status shows no calls and rtpengine holds no sessions', async () => {
    const e2e = fx.get();
    expect(await e2e.waitIdle()).toEqual({ calls: 0, sessions: 0 });
    expect(desk.errors).toBe('');
  });
});
