/**
 * drachtio-srf ships SIPp scenarios that none of its own tests use (drachtio-protocol §14.6).
 * Each one runs here for real, with Debian's SIPp 3.6.1 on 127.0.0.1, against the in-process
 * engine and a real drachtio-srf app playing the other side. Every case checks SIPp's exit code,
 * SIPp's own message trace (what the engine put on the wire, as the far end saw it), the engine's
 * outbound wire tap, and what the app was told.
 */
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import type Srf from 'drachtio-srf';
import {
  SDP, connectApp, cseqMethodOf, destroyReason, header, methodOf, routed, startEngine, statusOf, waitFor,
  type RunningEngine,
} from './engine-fixture';
import {
  describeRun, sippPorts, startScenario, tapAppSip, tapEngineSends, waitUdpBound,
  type AppSip, type EngineSent, type ScenarioRun, type TracedMessage,
} from './sipp-run';
import type { EngineConfig } from '../../gateway/src/engine/core/engine';
import type { InviteServerTransaction } from '../../gateway/src/engine/transaction/invite-server';

type Dialog = Srf.Dialog & NodeJS.EventEmitter;
type SrfRes = { status: number; get(h: string): string; body: string };

let running: RunningEngine | undefined;
let srf: Srf | undefined;
let wire: EngineSent[] = [];
let appSip: AppSip[] = [];

afterEach(async () => {
  srf?.disconnect();
  srf = undefined;
  await running?.stop();
  running = undefined;
});

/** Engine plus one connected srf app, both tapped: `wire` (engine out), `appSip` (app in). */
async function setup(overrides: Partial<EngineConfig> = {}): Promise<{ engine: RunningEngine; app: Srf }> {
  running = await startEngine(overrides);
  wire = tapEngineSends(running.engine);
  srf = await connectApp(running.engine);
  appSip = tapAppSip(srf);
  return { engine: running, app: srf };
}

/** SIP requests the app was handed for one call, as `source METHOD`. */
const appRequests = (callId: string | undefined): string[] =>
  appSip.filter((m) => methodOf(m.text) && header(m.text, 'Call-ID') === callId).map((m) => `${m.source} ${methodOf(m.text)}`);

const engineTarget = (): string => `127.0.0.1:${running!.port('udp')}`;

const fromEngine = (run: ScenarioRun): TracedMessage[] => run.messages.filter((m) => m.dir === 'received');
const fromSipp = (run: ScenarioRun): TracedMessage[] => run.messages.filter((m) => m.dir === 'sent');
const isResponse = (status: number, method: string) => (m: { text: string }) => statusOf(m.text) === status && cseqMethodOf(m.text) === method;
const isRequest = (method: string) => (m: { text: string }) => methodOf(m.text) === method;
const firstLine = (m: { text: string }): string => m.text.split('\r\n')[0];

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** SIPp seeds rand() with time(NULL) on its first `lost=` decision: a new seed needs a new second. */
async function nextWallClockSecond(after: number): Promise<void> {
  const second = Math.floor(after / 1000);
  while (Math.floor(Date.now() / 1000) === second) await sleep(20);
}

/** The engine's INVITE server transaction for the INVITE SIPp sent in this run. */
function inviteServerTxn(run: ScenarioRun): InviteServerTransaction | undefined {
  const invite = fromSipp(run).find(isRequest('INVITE'))!;
  const via = header(invite.text, 'Via')!;
  const branch = /;branch=([^;\s]+)/.exec(via)![1];
  const sentBy = /^SIP\/2\.0\/UDP ([^;\s]+)/.exec(via)![1];
  return running!.engine.txns.findServer(`${branch}|${sentBy}|INVITE`) as InviteServerTransaction | undefined;
}

/**
 * RFC 3261 default timers for the cases where the app's request goes to a SIPp UAS: with the
 * fixture's T1 = 50 ms a slow SIPp on a loaded machine would see retransmitted requests, which
 * these scenarios (one <recv> per request) do not expect.
 */
const UAS_TIMERS = { t1: 500, t2: 4000, t4: 5000 };

describe('drachtio-srf scenarios unused by its own suite (§14.6), run with SIPp 3.6.1', () => {
  it('uac-drop-200-then-cancel: CANCEL after the 200 gets 481, the engine BYEs (CANCEL after 200 OK), the app dialog is destroyed', async () => {
    // T1 = 100 ms puts Timer H (64*T1, the ACK timeout that would also BYE the call) at 6.4 s,
    // far from the scenario's 2 s pause before its CANCEL even on a loaded machine.
    const { engine, app } = await setup({ timers: { t1: 100, t2: 400, t4: 500 } });
    const calls: Array<{ destroyed: Promise<string> }> = [];
    app.invite(async (req, res) => {
      const dlg = (await app.createUAS(req, res, { localSdp: SDP })) as Dialog;
      calls.push({ destroyed: destroyReason(dlg) });
    });
    await routed(engine.engine, 'invite');

    // The scenario has no <recv> for the engine's BYE (it only expects the 481s). SIPp's default
    // behaviour aborts a call on an unexpected BYE (exit 1); with abortunexp off it logs the BYE
    // ("Continuing call on an unexpected BYE"), leaves it unanswered and completes the scenario.
    const run = await startScenario({
      scenario: 'uac-drop-200-then-cancel.xml', ports: await sippPorts(), target: engineTarget(), service: 'service', timeoutSec: 20,
      extraArgs: ['-default_behaviors', 'all,-abortunexp'],
    }).done;
    const why = describeRun(run);
    expect(run.result.exitCode, why).toBe(0);

    // SIPp's view of the wire: 200 (retransmitted, as SIPp never ACKs), its CANCEL, 481, the
    // engine's BYE, then SIPp's own BYE answered 481 because the dialog is already gone.
    const fromE = fromEngine(run);
    const oks = fromE.filter(isResponse(200, 'INVITE'));
    expect(oks.length, why).toBeGreaterThan(1);
    expect(new Set(oks.map((m) => m.text)).size, 'the 200 is retransmitted byte for byte').toBe(1);
    const cancel = fromSipp(run).find(isRequest('CANCEL'))!;
    const cancel481 = fromE.find(isResponse(481, 'CANCEL'))!;
    expect(cancel481, why).toBeDefined();
    expect(cancel481.at).toBeGreaterThan(cancel.at);
    expect(header(cancel481.text, 'Call-ID')).toBe(header(cancel.text, 'Call-ID'));

    const bye = fromE.find(isRequest('BYE'))!;
    expect(bye, why).toBeDefined();
    expect(bye.at).toBeGreaterThanOrEqual(cancel481.at);
    expect(header(bye.text, 'Reason')).toBe('SIP ;cause=200 ;text="CANCEL after 200 OK"');
    expect(header(bye.text, 'Call-ID')).toBe(header(cancel.text, 'Call-ID'));
    // The BYE comes from the callee side: its From is the 200's To, its target SIPp's Contact.
    expect(header(bye.text, 'From')).toBe(header(oks[0].text, 'To'));
    const invite = fromSipp(run).find(isRequest('INVITE'))!;
    expect(firstLine(bye)).toBe(`BYE ${header(invite.text, 'Contact')} SIP/2.0`);
    expect(run.errors).toContain('Continuing call on an unexpected BYE');

    const sippBye = fromSipp(run).find(isRequest('BYE'))!;
    const bye481 = fromE.find(isResponse(481, 'BYE'))!;
    expect(bye481, why).toBeDefined();
    expect(header(bye481.text, 'Call-ID')).toBe(header(sippBye.text, 'Call-ID'));

    // The engine stopped retransmitting the 200 once the CANCEL tore the call down.
    const cancelAnswered = wire.find(isResponse(481, 'CANCEL'))!;
    expect(wire.filter((w) => isResponse(200, 'INVITE')(w) && w.at > cancelAnswered.at)).toEqual([]);

    // The app: the INVITE, no ACK, no CANCEL (it is not the app's to answer), then the engine's
    // unsolicited BYE (§5.2 kind 6), which srf turns into destroy with the BYE's reason.
    expect(calls).toHaveLength(1);
    expect(await calls[0].destroyed).toBe('CANCEL after 200 OK');
    expect(appRequests(header(invite.text, 'Call-ID'))).toEqual(['network INVITE', 'application BYE']);
    expect(engine.engine.dialogs.size).toBe(0);
  });

  it('uac-drop-one-200: SIPp ignores the first 200(s), the engine retransmits it, the call completes with exactly one ACK at the app', async () => {
    // lost="75" is a coin SIPp flips for every copy of the 200 it receives. T2 = T1 = 50 ms makes
    // the engine resend the 200 every 50 ms until Timer H (64*T1 = 3.2 s): 64 copies, so SIPp
    // dropping them all (0.75^64) does not happen.
    const { engine, app } = await setup({ timers: { t1: 50, t2: 50, t4: 500 } });
    app.invite((req, res) => void app.createUAS(req, res, { localSdp: SDP }));
    await routed(engine.engine, 'invite');

    // Whether SIPp drops the *first* 200 is random (rand() seeded with time(NULL), 75 %): run the
    // scenario until a run has dropped at least one, each run in a new second (new seed). Every
    // run must pass on its own; P(no drop in 8 runs) = 0.25^8.
    let dropped = 0;
    for (let attempt = 1; attempt <= 8 && dropped === 0; attempt++) {
      const started = Date.now();
      const before = { sent: wire.length };
      const run = await startScenario({ scenario: 'uac-drop-one-200.xml', ports: await sippPorts(), target: engineTarget(), service: 'service', timeoutSec: 20 }).done;
      const why = describeRun(run);
      expect(run.result.exitCode, why).toBe(0);

      const callId = header(fromSipp(run)[0].text, 'Call-ID');
      const oks = fromEngine(run).filter(isResponse(200, 'INVITE'));
      const accepted = oks.findIndex((m) => !m.lost);
      expect(accepted, why).toBeGreaterThanOrEqual(0);
      // SIPp ignored exactly the copies before the one it ACKed (later copies are retransmissions
      // it may drop too, or answer by resending its ACK).
      expect(oks.slice(0, accepted).every((m) => m.lost), why).toBe(true);
      expect(new Set(oks.map((m) => m.text)).size, 'every copy is the same 200, byte for byte').toBe(1);
      const ack = fromSipp(run).find(isRequest('ACK'))!;
      expect(ack.at).toBeGreaterThanOrEqual(oks[accepted].at);
      expect(header(ack.text, 'To')).toBe(header(oks[0].text, 'To'));

      // The engine's side: the same 200 went out once per copy SIPp saw, at least T1 apart.
      const engineOks = wire.slice(before.sent).filter((w) => isResponse(200, 'INVITE')(w) && header(w.text, 'Call-ID') === callId);
      expect(engineOks.map((w) => w.text.length)).toEqual(oks.map((m) => m.text.length));
      for (let i = 1; i < engineOks.length; i++) expect(engineOks[i].at - engineOks[i - 1].at).toBeGreaterThanOrEqual(45);
      const bye200 = fromEngine(run).find(isResponse(200, 'BYE'));
      expect(bye200, why).toBeDefined();

      // The app: the INVITE, exactly one ACK (however many ACKs SIPp sent), then the BYE.
      await waitFor(() => appRequests(callId).includes('network BYE'), 3000, 'the BYE at the app');
      await sleep(3 * 50); // room for a duplicate ACK to show up, should the engine pass one on
      expect(appRequests(callId), why).toEqual(['network INVITE', 'network ACK', 'network BYE']);
      expect(fromSipp(run).filter(isRequest('ACK')).length, why).toBeGreaterThanOrEqual(1);
      expect(engine.engine.dialogs.size).toBe(0);

      dropped = accepted;
      if (dropped === 0) await nextWallClockSecond(started);
    }
    expect(dropped, 'SIPp never dropped the first 200 in 8 runs').toBeGreaterThan(0);
  }, 60_000);

  it('uac-drop-one-503: the app rejects with 503, the engine retransmits it (Timer G) until the ACK and absorbs the ACK', async () => {
    // lost="70" per copy; T2 = T1 = 50 ms gives 64 copies before Timer H. T4 = 5 s keeps the
    // transaction in Confirmed (Timer I) long enough to look at it.
    const { engine, app } = await setup({ timers: { t1: 50, t2: 50, t4: 5000 } });
    app.invite((_req, res) => res.send(503));
    await routed(engine.engine, 'invite');

    let dropped = 0;
    for (let attempt = 1; attempt <= 8 && dropped === 0; attempt++) {
      const started = Date.now();
      const before = { sent: wire.length };
      const run = await startScenario({ scenario: 'uac-drop-one-503.xml', ports: await sippPorts(), target: engineTarget(), service: 'service', timeoutSec: 20 }).done;
      const why = describeRun(run);
      expect(run.result.exitCode, why).toBe(0);

      const callId = header(fromSipp(run)[0].text, 'Call-ID');
      const finals = fromEngine(run).filter(isResponse(503, 'INVITE'));
      const accepted = finals.findIndex((m) => !m.lost);
      expect(accepted, why).toBeGreaterThanOrEqual(0);
      expect(finals.slice(0, accepted).every((m) => m.lost), why).toBe(true);
      expect(new Set(finals.map((m) => m.text)).size, 'every copy is the same 503, byte for byte').toBe(1);
      expect(header(finals[0].text, 'To')).toMatch(/;tag=/);

      // SIPp's ACK is the non-2xx ACK of RFC 3261 §17.1.1.3: the INVITE's branch, the 503's To.
      const ack = fromSipp(run).find(isRequest('ACK'))!;
      const invite = fromSipp(run).find(isRequest('INVITE'))!;
      expect(/branch=([^;\s]+)/.exec(header(ack.text, 'Via')!)![1]).toBe(/branch=([^;\s]+)/.exec(header(invite.text, 'Via')!)![1]);
      expect(header(ack.text, 'To')).toBe(header(finals[0].text, 'To'));

      // The engine's INVITE server transaction took the ACK (Completed -> Confirmed) ...
      await waitFor(() => inviteServerTxn(run)?.state === 'confirmed', 3000, 'INVITE server transaction confirmed by the ACK');
      // ... and stops retransmitting: nothing more leaves the engine for this call.
      const sentForCall = () => wire.slice(before.sent).filter((w) => header(w.text, 'Call-ID') === callId);
      const settled = sentForCall().length;
      await sleep(6 * 50);
      expect(sentForCall().length).toBe(settled);
      const engine503s = sentForCall().filter(isResponse(503, 'INVITE'));
      expect(engine503s.length).toBeGreaterThanOrEqual(finals.length);
      for (let i = 1; i < engine503s.length; i++) expect(engine503s[i].at - engine503s[i - 1].at).toBeGreaterThanOrEqual(45);
      expect(sentForCall().every((w) => statusOf(w.text) === 100 || statusOf(w.text) === 503)).toBe(true);

      // The app saw the INVITE only; the ACK never reached it, and no dialog exists.
      expect(appRequests(callId)).toEqual(['network INVITE']);
      expect(engine.engine.dialogs.size).toBe(0);

      dropped = accepted;
      if (dropped === 0) await nextWallClockSecond(started);
    }
    expect(dropped, 'SIPp never dropped the first 503 in 8 runs').toBeGreaterThan(0);
  }, 60_000);

  it('uac-spammer-expect-603: a User-Agent on the spammer list gets 603 from the engine, the app is never involved', async () => {
    // T4 = 5 s keeps the INVITE server transaction in Confirmed (Timer I) long enough to look at.
    const { engine, app } = await setup({ spammers: { userAgent: ['sip-cli'] }, timers: { t1: 50, t2: 400, t4: 5000 } });
    let handled = 0;
    app.invite((_req, res) => {
      handled++;
      res.send(480);
    });
    await routed(engine.engine, 'invite');

    const run = await startScenario({ scenario: 'uac-spammer-expect-603.xml', ports: await sippPorts(), target: engineTarget(), service: 'service', timeoutSec: 20 }).done;
    const why = describeRun(run);
    expect(run.result.exitCode, why).toBe(0);

    const invite = fromSipp(run).find(isRequest('INVITE'))!;
    expect(header(invite.text, 'User-Agent')).toBe('sip-cli');
    // The spammer check comes before the 100 Trying (§10.1 steps 3 and 7): the 603 is all SIPp got.
    // (Copies: the 603 is retransmitted on Timer G should SIPp be slower than T1 with its ACK.)
    const got = fromEngine(run);
    expect(got.length, why).toBeGreaterThanOrEqual(1);
    expect(firstLine(got[0])).toBe('SIP/2.0 603 Decline');
    expect(got.every((m) => m.text === got[0].text), why).toBe(true);
    expect(header(got[0].text, 'Call-ID')).toBe(header(invite.text, 'Call-ID'));
    expect(header(got[0].text, 'To'), 'RFC 3261 §8.2.6.2: a final response carries a To tag').toMatch(/;tag=/);
    const ack = fromSipp(run).find(isRequest('ACK'))!;
    expect(header(ack.text, 'To')).toBe(header(got[0].text, 'To'));

    // The engine's INVITE server transaction took SIPp's ACK; nothing else left the engine.
    await waitFor(() => inviteServerTxn(run)?.state === 'confirmed', 3000, 'INVITE server transaction confirmed by the ACK');
    await sleep(6 * 50);
    expect(wire.length).toBeGreaterThanOrEqual(1);
    expect(wire.every((w) => w.text === got[0].text)).toBe(true);
    expect(handled).toBe(0);
    expect(appSip).toEqual([]);
    expect(engine.engine.incoming.size).toBe(0);
    expect(engine.engine.dialogs.size).toBe(0);
  });

  it('uas-options-expect-200: the app sends OPTIONS to a SIPp UAS through the engine and gets its 200', async () => {
    const { engine, app } = await setup({ timers: UAS_TIMERS });
    const ports = await sippPorts();
    const sipp = startScenario({ scenario: 'uas-options-expect-200.xml', ports, timeoutSec: 20 });
    await waitUdpBound(ports.sip);

    // srf's typings lag its implementation: request(uri, opts) resolves with the request sent.
    const sendRequest = app.request.bind(app) as unknown as (uri: string, opts: { method: string }) => Promise<NodeJS.EventEmitter & { get(h: string): string }>;
    const req = await sendRequest(`sip:service@127.0.0.1:${ports.sip}`, { method: 'OPTIONS' });
    const res = await new Promise<SrfRes>((resolve) => req.once('response', resolve));
    const run = await sipp.done;
    const why = describeRun(run);
    expect(run.result.exitCode, why).toBe(0);
    expect(res.status).toBe(200);
    expect(res.get('Call-ID')).toBe(req.get('Call-ID'));
    expect(res.get('To')).toMatch(/;tag=\d+SIPpTag01/);

    // What SIPp got: the OPTIONS from the engine's UDP transport, with the app's Call-ID.
    const options = fromEngine(run);
    expect(options.map(firstLine), why).toEqual([`OPTIONS sip:service@127.0.0.1:${ports.sip} SIP/2.0`]);
    expect(header(options[0].text, 'Call-ID')).toBe(req.get('Call-ID'));
    expect(header(options[0].text, 'Via')).toMatch(new RegExp(`^SIP/2\\.0/UDP 127\\.0\\.0\\.1:${engine.port('udp')};branch=z9hG4bK`));
    expect(fromSipp(run).map(firstLine)).toEqual(['SIP/2.0 200 OK']);
    expect(wire.filter(isRequest('OPTIONS')).map((w) => `${w.protocol}/${w.address}:${w.port}`)).toEqual([`udp/127.0.0.1:${ports.sip}`]);
  });

  it('uas-refer: the app calls the SIPp UAS (createUAC), gets 180 and 200 with the echoed Subject, ACKs, and hangs up with BYE', async () => {
    const { app } = await setup({ timers: UAS_TIMERS });
    const ports = await sippPorts();
    const sipp = startScenario({ scenario: 'uas-refer.xml', ports, timeoutSec: 20 });
    await waitUdpBound(ports.sip);

    const subject = 'uas-refer from the engine suite';
    const provisional: SrfRes[] = [];
    const dlg = (await app.createUAC(
      `sip:service@127.0.0.1:${ports.sip}`,
      { localSdp: SDP, headers: { Subject: subject } },
      { cbProvisional: (res: SrfRes) => provisional.push(res) },
    )) as Dialog & { res: SrfRes; remote: { sdp: string; uri: string } };
    expect(provisional.map((r) => r.status)).toEqual([180]);
    expect(provisional[0].get('Subject').trim()).toBe(subject);
    expect(dlg.res.status).toBe(200);
    expect(dlg.res.get('Subject').trim()).toBe(subject);
    expect(dlg.remote.sdp).toContain(`m=audio ${ports.media} RTP/AVP 0`);
    expect(dlg.remote.uri).toBe(`sip:127.0.0.1:${ports.sip};transport=UDP`);

    // The scenario waits for the ACK, then for a BYE; the app hangs up once SIPp has its ACK.
    await waitFor(() => wire.some(isRequest('ACK')), 3000, 'the ACK on the wire');
    // srf calls back once the BYE has its final response.
    await new Promise<void>((resolve, reject) => dlg.destroy(undefined, (err: unknown) => (err ? reject(err) : resolve())));
    const run = await sipp.done; // SIPp's <timewait> keeps it 4 s after the BYE's 200
    const why = describeRun(run);
    expect(run.result.exitCode, why).toBe(0);

    // SIPp's view: INVITE, ACK and BYE from the engine, all to its Contact, one dialog.
    const got = fromEngine(run);
    expect(got.map((m) => methodOf(m.text)), why).toEqual(['INVITE', 'ACK', 'BYE']);
    expect(header(got[0].text, 'Subject')).toBe(subject);
    expect(new Set(got.map((m) => header(m.text, 'Call-ID'))).size).toBe(1);
    expect(firstLine(got[1])).toBe(`ACK sip:127.0.0.1:${ports.sip};transport=UDP SIP/2.0`);
    expect(firstLine(got[2])).toBe(`BYE sip:127.0.0.1:${ports.sip};transport=UDP SIP/2.0`);
    expect(header(got[1].text, 'CSeq')).toMatch(/^\d+ ACK$/);
    expect(parseInt(header(got[1].text, 'CSeq')!, 10)).toBe(parseInt(header(got[0].text, 'CSeq')!, 10));
    expect(parseInt(header(got[2].text, 'CSeq')!, 10)).toBeGreaterThan(parseInt(header(got[0].text, 'CSeq')!, 10));
    expect(fromSipp(run).map(firstLine)).toEqual(['SIP/2.0 180 Ringing', 'SIP/2.0 200 OK', 'SIP/2.0 200 OK']);
    expect(cseqMethodOf(fromSipp(run)[2].text)).toBe('BYE');
  });

  it('uac-pcap: RTP from SIPp reaches the address the app put in its SDP, relayed unchanged by the engine', async () => {
    const { engine, app } = await setup();
    const rtp = dgram.createSocket('udp4');
    await new Promise<void>((r) => rtp.bind(0, '127.0.0.1', () => r()));
    const rtpPort = rtp.address().port;
    const packets: Array<{ pt: number; from: string }> = [];
    rtp.on('message', (m, rinfo) => {
      if (m.length >= 12 && m[0] >> 6 === 2) packets.push({ pt: m[1] & 0x7f, from: rinfo.address });
    });
    const answer = `v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio ${rtpPort} RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-11,16\r\n`;
    const calls: Array<{ offer: string; destroyed: Promise<string> }> = [];
    app.invite(async (req, res) => {
      const dlg = (await app.createUAS(req, res, { localSdp: answer })) as Dialog;
      calls.push({ offer: req.body, destroyed: destroyReason(dlg) });
    });
    await routed(engine.engine, 'invite');

    try {
      // The scenario plays pcap/g711a.pcap (8 s), then an RFC 2833 digit, then hangs up.
      const run = await startScenario({ scenario: 'uac-pcap.xml', ports: await sippPorts(), target: engineTarget(), service: 'service', timeoutSec: 40 }).done;
      const why = describeRun(run);
      expect(run.result.exitCode, why).toBe(0);

      const ok = fromEngine(run).find(isResponse(200, 'INVITE'))!;
      expect(ok.text.endsWith(`\r\n\r\n${answer}`), 'the engine relays the app SDP byte for byte').toBe(true);
      expect(calls).toHaveLength(1);
      expect(calls[0].offer).toMatch(/m=audio \d+ RTP\/AVP 8 101/);
      await calls[0].destroyed;
      expect(appRequests(header(ok.text, 'Call-ID'))).toEqual(['network INVITE', 'network ACK', 'network BYE']);

      const pcma = packets.filter((p) => p.pt === 8);
      expect(pcma.length, `RTP seen: ${JSON.stringify(packets.slice(0, 5))}, ${packets.length} in all`).toBeGreaterThan(100);
      expect(packets.every((p) => p.pt === 8 || p.pt === 101)).toBe(true);
      expect(packets.filter((p) => p.pt === 101).length, 'the RFC 2833 digit from dtmf_2833_1.pcap').toBeGreaterThan(0);
      expect(packets.every((p) => p.from === '127.0.0.1')).toBe(true);
    } finally {
      rtp.close();
    }
  }, 45_000);
});
