/**
 * End to end, DTMF (issue 3 §5 e): the browser sends digits as SIP INFO (application/dtmf-relay,
 * gatewayPhone.sendDtmf(d, 'info')); the gateway has rtpengine play them as RFC 4733
 * telephone-events toward the desk phone. SIPp cannot assert RTP payloads, so the desk phone here
 * is desk-phone.cjs: a minimal SIP UAS plus a dgram socket that sends PCMU and decodes every
 * telephone-event packet it receives (static phone `dtmfdesk` at 127.0.0.1:5082).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { PHONES, e2eSuite, note, skipReason, until, type DeskPhone, type DeskPhoneLine, type PhonePage } from './e2e-fixture.js';

const RTP_PORT = 40_000;

describe.skipIf(skipReason)(`e2e: DTMF from the browser to a desk phone${skipReason ? ` — SKIPPED: ${skipReason}` : ''}`, () => {
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

  it('i. afterwards: /api/status shows no calls and rtpengine holds no sessions', async () => {
    const e2e = fx.get();
    expect(await e2e.waitIdle()).toEqual({ calls: 0, sessions: 0 });
    expect(desk.errors).toBe('');
  });
});
