/**
 * Proxy core against real software on loopback: an in-process Engine, a real drachtio-srf app
 * calling srf.proxyRequest, SIPp (the srf suite's own proxy scenarios) and small UDP SIP peers
 * that read the SIP the engine puts on the wire.
 */
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Engine } from '../core/engine';
import { SipRequest, SipResponse } from '../sip/message';
import { chooseBest, upstreamStatusFor } from './best-response';
import { parseDuration, parseProxyCommand } from './proxy-command';
import { actAsUas, isRequest, isResponse, SipPeer, TcpSipClient, Uac } from './proxy-test-support';
import { StatelessForwarder } from './stateless-forwarder';

const require = createRequire(import.meta.url);
const Srf = require('drachtio-srf');
const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
const scenarios = join(repoRoot, 'node_modules/drachtio-srf/test/scenarios');

interface ProxyResults {
  connected: boolean;
  finalStatus?: number;
  finalResponse?: { status: number };
  responses: Array<{ address: string; port: number; msgs: Array<{ status: number }> }>;
}

type Handler = (req: unknown, res: unknown) => void;

let engine: Engine;
let srf: any;
let enginePort: number;
let engineTcpPort: number;
let handler: Handler = () => {};
const cdrs: string[] = [];
const peers: SipPeer[] = [];

async function peer(name: string): Promise<SipPeer> {
  const p = await SipPeer.open(name);
  peers.push(p);
  return p;
}

/** Install the app's INVITE handler for one test; resolves with proxyRequest's outcome. */
function proxyWith(targets: () => string[], opts: Record<string, unknown>): Promise<ProxyResults> {
  return new Promise((resolve, reject) => {
    handler = (req) => {
      srf.proxyRequest(req, targets(), opts).then(resolve, reject);
    };
  });
}

function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  return new Promise((resolve) => s.bind(0, '127.0.0.1', () => {
    const { port } = s.address();
    s.close(() => resolve(port));
  }));
}

interface SippRun {
  code: number | null;
  output: string;
}

/** SIPp with distinct -p/-cp/-mp ports, -m 1, -nostdin, under a `timeout` guard. */
async function sipp(scenario: string, extra: string[], target?: string): Promise<{ port: number; done: Promise<SippRun> }> {
  const [port, cp, mp] = [await freeUdpPort(), await freeUdpPort(), await freeUdpPort()];
  const args = ['25', '/usr/bin/sipp', '-sf', join(scenarios, scenario), '-i', '127.0.0.1', '-p', String(port), '-cp', String(cp), '-mp', String(mp), '-m', '1', '-nostdin', ...extra];
  if (target) args.push(target);
  const done = new Promise<SippRun>((resolve) => {
    execFile('timeout', args, { cwd: '/tmp' }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, output: `${stdout}\n${stderr}` });
    });
  });
  return { port, done };
}

async function eventually(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  engine = new Engine({
    contacts: [
      { protocol: 'udp', host: '127.0.0.1', port: 0 },
      { protocol: 'tcp', host: '127.0.0.1', port: 0 },
    ],
    adminAddress: '127.0.0.1',
    adminPort: 0,
    secret: 'cymru',
    cdrs: true,
    // Short transaction timers so operations (Timer L/J/I) finish within the test.
    timers: { t1: 50, t4: 500 },
  });
  await engine.start();
  enginePort = engine.transports[0].localPort;
  engineTcpPort = engine.transports[1].localPort;
  srf = new Srf();
  srf.invite((req: unknown, res: unknown) => handler(req, res));
  srf.register((req: unknown, res: unknown) => handler(req, res));
  for (const kind of ['cdr:attempt', 'cdr:start', 'cdr:stop']) {
    srf.on(kind, (source: string, _time: string, extra: unknown) => cdrs.push(`${kind}|${source}|${typeof extra === 'string' ? extra : ''}`));
  }
  await new Promise<void>((resolve, reject) => {
    srf.once('connect', (err: Error | undefined) => (err ? reject(err) : resolve()));
    srf.connect({ host: '127.0.0.1', port: engine.adminPort, secret: 'cymru' });
  });
});

afterAll(async () => {
  srf?.disconnect();
  for (const p of peers) p.close();
  await engine?.stop();
});

beforeEach(() => {
  engine.proxy.timerCMs = 185_000;
  cdrs.length = 0;
});

describe('proxy core (drachtio-protocol §7, RFC 3261 §16)', () => {
  it('proxies a call with Record-Route: srf uac-proxy.xml -> engine -> uas.xml (INVITE/200/ACK/BYE)', async () => {
    const uas = await sipp('uas.xml', []);
    const results = proxyWith(() => [`sip:127.0.0.1:${uas.port}`], { recordRoute: true });
    await new Promise((r) => setTimeout(r, 300)); // let the UAS bind
    const uac = await sipp('uac-proxy.xml', ['-s', 'service'], `127.0.0.1:${enginePort}`);
    const [uacRun, uasRun] = await Promise.all([uac.done, uas.done]);
    expect(uacRun.code, uacRun.output).toBe(0);
    expect(uasRun.code, uasRun.output).toBe(0);
    const r = await results;
    expect(r.connected).toBe(true);
    expect(r.finalStatus).toBe(200);
    expect(cdrs).toEqual(expect.arrayContaining([
      'cdr:attempt|application|', 'cdr:start|network|proxy-uac', 'cdr:start|application|proxy-uas',
      'cdr:stop|network|normal-release', 'cdr:stop|application|normal-release',
    ]));
  }, 30_000);

  it('double Record-Route across UDP -> TCP; ACK/BYE with both Routes pass over TCP (RFC 5658)', async () => {
    const uas = await sipp('uas.xml', ['-t', 't1']);
    const results = proxyWith(() => [`sip:127.0.0.1:${uas.port};transport=tcp`], { recordRoute: true });
    await new Promise((r) => setTimeout(r, 300));
    const uac = await sipp('uac-proxy.xml', ['-s', 'service', '-trace_msg', '-message_file', '/tmp/proxy-test-uac-tcp.log'], `127.0.0.1:${enginePort}`);
    const [uacRun, uasRun] = await Promise.all([uac.done, uas.done]);
    expect(uacRun.code, uacRun.output).toBe(0);
    expect(uasRun.code, uasRun.output).toBe(0);
    const trace = readFileSync('/tmp/proxy-test-uac-tcp.log', 'utf8');
    // The caller's route set: our UDP side first, then our TCP side (both popped by us).
    expect(trace).toContain(`Route: <sip:127.0.0.1:${enginePort};lr>, <sip:127.0.0.1:${engineTcpPort};transport=tcp;lr>`);
    expect((await results).finalStatus).toBe(200);
  }, 30_000);

  it('a callee BYE reaches a TCP caller with an unreachable .invalid Contact via the flow token in our Record-Route', async () => {
    const uas = await peer('callee');
    actAsUas(uas, [{ status: 200 }]);
    const caller = await TcpSipClient.open('tcp-caller', engineTcpPort);
    const results = proxyWith(() => [uas.uri], { recordRoute: true });
    const callerContact = 'sip:alice@x7y8z9.invalid;transport=tcp';
    const inv = new SipRequest('INVITE', `sip:bob@127.0.0.1:${engineTcpPort};transport=tcp`);
    inv.addHeader('Via', `SIP/2.0/TCP x7y8z9.invalid;branch=z9hG4bKtcp1`);
    inv.addHeader('Max-Forwards', '70');
    inv.addHeader('From', '<sip:alice@example.com>;tag=tc1');
    inv.addHeader('To', '<sip:bob@example.com>');
    inv.addHeader('Call-ID', 'tcp-flow-1@proxy-test');
    inv.addHeader('CSeq', '1 INVITE');
    inv.addHeader('Contact', `<${callerContact}>`);
    caller.send(inv);
    const ok = await caller.waitFor<SipResponse>(isResponse(200, 'INVITE'), '200 over TCP');
    const rr = ok.getHeaderValues('Record-Route');
    expect(rr).toHaveLength(2);
    expect(rr[0]).toBe(`<sip:127.0.0.1:${enginePort};lr>`);
    expect(rr[1]).toMatch(new RegExp(`^<sip:127\\.0\\.0\\.1:${engineTcpPort};transport=tcp;lr;drflow=[0-9a-f.]+>$`));
    expect((await results).finalStatus).toBe(200);

    // The callee hangs up: Request-URI = the caller's .invalid Contact, route set = Record-Route.
    const fwdInvite = uas.requests('INVITE')[0];
    const bye = new SipRequest('BYE', callerContact);
    bye.addHeader('Via', `SIP/2.0/UDP 127.0.0.1:${uas.port};branch=z9hG4bKbye1;rport`);
    for (const r of fwdInvite.getHeaderValues('Record-Route')) bye.addHeader('Route', r);
    bye.addHeader('Max-Forwards', '70');
    bye.addHeader('From', ok.getHeader('To')!);
    bye.addHeader('To', fwdInvite.getHeader('From')!);
    bye.addHeader('Call-ID', 'tcp-flow-1@proxy-test');
    bye.addHeader('CSeq', '1 BYE');
    uas.send(bye, enginePort);
    const got = await caller.waitFor<SipRequest>(isRequest('BYE'), 'BYE over the caller connection');
    expect(got.getHeader('Route')).toBeUndefined();
    expect(got.getHeaderValues('Via')[0]).toMatch(new RegExp(`^SIP/2.0/TCP 127\\.0\\.0\\.1:${engineTcpPort};branch=z9hG4bK`));
    const byeOk = new SipResponse(200, 'OK');
    for (const v of got.getHeaderValues('Via')) byeOk.addHeader('Via', v);
    for (const h of ['From', 'To', 'Call-ID', 'CSeq']) byeOk.addHeader(h, got.getHeader(h)!);
    caller.send(byeOk);
    const back = await uas.waitFor<SipResponse>(isResponse(200, 'BYE'), '200 to BYE back at the callee');
    expect(back.getHeaderValues('Via')).toHaveLength(1);
    caller.close();
  });

  it('REGISTER is proxied with Path and Require: path instead of Record-Route (RFC 3327)', async () => {
    const [registrar, ua] = await Promise.all([peer('registrar'), peer('ua')]);
    actAsUas(registrar, []);
    const results = proxyWith(() => [registrar.uri], { recordRoute: true });
    const reg = new SipRequest('REGISTER', `sip:127.0.0.1:${enginePort}`);
    reg.addHeader('Via', `SIP/2.0/UDP 127.0.0.1:${ua.port};branch=z9hG4bKreg1;rport`);
    reg.addHeader('Max-Forwards', '70');
    reg.addHeader('From', `<sip:ua@127.0.0.1>;tag=r1`);
    reg.addHeader('To', '<sip:ua@127.0.0.1>');
    reg.addHeader('Call-ID', 'reg-1@proxy-test');
    reg.addHeader('CSeq', '1 REGISTER');
    reg.addHeader('Contact', `<sip:ua@127.0.0.1:${ua.port}>;expires=60`);
    ua.send(reg, enginePort);
    const ok = await ua.waitFor<SipResponse>(isResponse(200, 'REGISTER'), '200 to REGISTER');
    expect(ok.getHeaderValues('Via')).toHaveLength(1);
    const fwd = registrar.requests('REGISTER')[0];
    expect(fwd.uri).toBe(registrar.uri);
    expect(fwd.getHeader('Path')).toBe(`<sip:127.0.0.1:${enginePort};lr>`);
    expect(fwd.getHeaderValues('Require')).toContain('path');
    expect(fwd.getHeader('Record-Route')).toBeUndefined();
    expect((await results).finalStatus).toBe(200);
  });

  it('serial forking: 486 from the first target, then 200 from the second; ACK and BYE pass through', async () => {
    const [a, b, caller] = await Promise.all([peer('a'), peer('b'), peer('alice')]);
    actAsUas(a, [{ status: 100 }, { status: 486, delayMs: 50 }]);
    actAsUas(b, [{ status: 180 }, { status: 200, delayMs: 50 }]);
    const results = proxyWith(() => [a.uri, b.uri], { recordRoute: true, headers: { 'X-Proxied': 'yes' } });
    const uac = new Uac(caller, enginePort);
    uac.sendInvite();
    const ringing = await caller.waitFor<SipResponse>(isResponse(180), '180');
    const ok = await caller.waitFor<SipResponse>(isResponse(200, 'INVITE'), '200 to INVITE');
    expect(caller.responses(486)).toHaveLength(0);
    // Upstream sees exactly its own Via; 100 from a target is absorbed (RFC 3261 §16.7 step 3/5).
    expect(ok.getHeaderValues('Via')).toHaveLength(1);
    expect(ringing.getHeaderValues('Via')).toHaveLength(1);
    const rr = ok.getHeaderValues('Record-Route');
    expect(rr).toEqual([`<sip:127.0.0.1:${enginePort};lr>`]);
    // Hop-by-hop ACK of the 486 by the engine's client transaction.
    const ack486 = await a.waitFor<SipRequest>(isRequest('ACK'), 'ACK for 486');
    expect(ack486.getHeader('CSeq')).toBe('1 ACK');
    // What the second target received: the Request-URI replaced (it addressed us), our Via on
    // top, Record-Route, decremented Max-Forwards, the app's header.
    const inv = b.requests('INVITE')[0];
    expect(inv.uri).toBe(b.uri);
    expect(inv.getHeaderValues('Via')).toHaveLength(2);
    expect(inv.getHeader('Max-Forwards')).toBe('69');
    expect(inv.getHeader('X-Proxied')).toBe('yes');
    expect(inv.getHeaderValues('Record-Route')[0]).toBe(`<sip:127.0.0.1:${enginePort};lr>`);

    uac.sendInDialog('ACK', ok);
    const ack = await b.waitFor<SipRequest>(isRequest('ACK'), 'end-to-end ACK');
    expect(ack.getHeader('Route')).toBeUndefined();
    expect(ack.uri).toBe(`sip:b@127.0.0.1:${b.port}`);
    expect(ack.getHeaderValues('Via')).toHaveLength(2);
    uac.sendInDialog('BYE', ok);
    const bye = await b.waitFor<SipRequest>(isRequest('BYE'), 'BYE');
    expect(bye.getHeader('Route')).toBeUndefined();
    const byeOk = await caller.waitFor<SipResponse>(isResponse(200, 'BYE'), '200 to BYE');
    expect(byeOk.getHeaderValues('Via')).toHaveLength(1);

    const r = await results;
    expect(r.connected).toBe(true);
    expect(r.finalStatus).toBe(200);
    expect(r.responses.flatMap((x) => x.msgs.map((m) => m.status))).toEqual([486, 200]);
    expect(r.responses[0].port).toBe(a.port);
  });

  it('simultaneous forking: the first 200 wins, the ringing branch is CANCELled', async () => {
    const [a, b, caller] = await Promise.all([peer('a2'), peer('b2'), peer('alice2')]);
    actAsUas(a, [{ status: 180 }]);
    actAsUas(b, [{ status: 183 }, { status: 200, delayMs: 300 }]);
    const results = proxyWith(() => [a.uri, b.uri], { forking: 'simultaneous' });
    const uac = new Uac(caller, enginePort);
    uac.sendInvite();
    await caller.waitFor(isResponse(180), '180 from a');
    await caller.waitFor(isResponse(183), '183 from b');
    const ok = await caller.waitFor<SipResponse>(isResponse(200, 'INVITE'), '200');
    expect(ok.getHeader('Record-Route')).toBeUndefined();
    const cancel = await a.waitFor<SipRequest>(isRequest('CANCEL'), 'CANCEL to the loser');
    expect(cancel.getHeader('Reason')).toContain('cause=200');
    // The loser's 487 is ACKed by the engine and never reaches the caller.
    await a.waitFor(isRequest('ACK'), 'ACK for 487');
    const r = await results;
    expect(r.connected).toBe(true);
    expect(r.finalStatus).toBe(200);
    await new Promise((res) => setTimeout(res, 200));
    expect(caller.responses(487)).toHaveLength(0);
  });

  it('best response when every target fails (RFC 3261 §16.7 step 6)', async () => {
    const [a, b, c, caller] = await Promise.all([peer('a3'), peer('b3'), peer('c3'), peer('alice3')]);
    actAsUas(a, [{ status: 503 }]);
    actAsUas(b, [{ status: 486 }]);
    actAsUas(c, [{ status: 484 }]);
    const results = proxyWith(() => [a.uri, b.uri, c.uri], {});
    new Uac(caller, enginePort).sendInvite();
    const final = await caller.waitFor<SipResponse>((m) => !m.isRequest && (m as SipResponse).status >= 300, 'final');
    // 4xx is the lowest class; 484 carries resubmission information and is preferred.
    expect(final.status).toBe(484);
    expect(final.getHeaderValues('Via')).toHaveLength(1);
    const r = await results;
    expect(r.connected).toBe(false);
    expect(r.finalStatus).toBe(484);
    expect(r.responses.flatMap((x) => x.msgs.map((m) => m.status)).sort()).toEqual([484, 486, 503]);
    expect(cdrs).toContain('cdr:stop|application|call-rejected');
  });

  it('a 6xx stops the search and cancels pending branches', async () => {
    const [a, b, caller] = await Promise.all([peer('a4'), peer('b4'), peer('alice4')]);
    actAsUas(a, [{ status: 180 }]);
    actAsUas(b, [{ status: 603, delayMs: 200 }]);
    const results = proxyWith(() => [a.uri, b.uri], { forking: 'simultaneous' });
    new Uac(caller, enginePort).sendInvite();
    await a.waitFor(isRequest('CANCEL'), 'CANCEL after the 603');
    const final = await caller.waitFor<SipResponse>((m) => !m.isRequest && (m as SipResponse).status >= 300, 'final');
    expect(final.status).toBe(603);
    expect((await results).finalStatus).toBe(603);
  });

  it('CANCEL from upstream: 200 to the CANCEL, 487 upstream, the branch CANCELled', async () => {
    const [a, caller] = await Promise.all([peer('a5'), peer('alice5')]);
    actAsUas(a, [{ status: 180 }]);
    const results = proxyWith(() => [a.uri], { recordRoute: true });
    const uac = new Uac(caller, enginePort);
    uac.sendInvite();
    await caller.waitFor(isResponse(180), '180');
    uac.sendCancel();
    await caller.waitFor(isResponse(200, 'CANCEL'), '200 to CANCEL');
    const r487 = await caller.waitFor<SipResponse>(isResponse(487, 'INVITE'), '487');
    expect(r487.getHeaderValues('Via')).toHaveLength(1);
    await a.waitFor(isRequest('CANCEL'), 'CANCEL downstream');
    const r = await results;
    expect(r.connected).toBe(false);
    expect(r.finalStatus).toBe(487);
    expect(cdrs).toContain('cdr:stop|network|call-canceled');
  });

  it('follows a 3xx: the Contact becomes the next target', async () => {
    const [a, b, caller] = await Promise.all([peer('a6'), peer('b6'), peer('alice6')]);
    actAsUas(b, [{ status: 200 }]);
    actAsUas(a, [{ status: 302, headers: { Contact: `<${b.uri}>` } }]);
    const results = proxyWith(() => [a.uri], { followRedirects: true });
    new Uac(caller, enginePort).sendInvite();
    await caller.waitFor(isResponse(200, 'INVITE'), '200 via the redirect target');
    expect(caller.responses(302)).toHaveLength(0);
    await a.waitFor(isRequest('ACK'), 'ACK for 302');
    const r = await results;
    expect(r.finalStatus).toBe(200);
    expect(r.responses.flatMap((x) => x.msgs.map((m) => m.status))).toEqual([302, 200]);
  });

  it('Max-Forwards 0 -> 483 upstream and NOK to the app', async () => {
    const caller = await peer('alice7');
    const failure = proxyWith(() => ['sip:127.0.0.1:9'], {}).then(() => 'resolved', (err: unknown) => err);
    new Uac(caller, enginePort).sendInvite({ maxForwards: 0 });
    const final = await caller.waitFor<SipResponse>(isResponse(483), '483');
    expect(final.getHeaderValues('Via')).toHaveLength(1);
    expect(await failure).toBe('Rejected with 483 Too Many Hops due to Max-Forwards value of 0');
  });

  it('a 401 challenge is forwarded at once and stops the search', async () => {
    const [a, b, caller] = await Promise.all([peer('a8'), peer('b8'), peer('alice8')]);
    actAsUas(a, [{ status: 401, headers: { 'WWW-Authenticate': 'Digest realm="x", nonce="1"' } }]);
    actAsUas(b, [{ status: 200 }]);
    const results = proxyWith(() => [a.uri, b.uri], {});
    new Uac(caller, enginePort).sendInvite();
    const final = await caller.waitFor<SipResponse>(isResponse(401), '401');
    expect(final.getHeader('WWW-Authenticate')).toContain('realm="x"');
    expect((await results).finalStatus).toBe(401);
    expect(b.requests('INVITE')).toHaveLength(0);
  });

  it('provisional timeout moves a serial search on; Timer C cancels a ringing branch with 408', { timeout: 20_000 }, async () => {
    const [silent, ringing, caller] = await Promise.all([peer('silent'), peer('ringing'), peer('alice9')]);
    silent.onMessage = undefined; // never answers
    actAsUas(ringing, [{ status: 180 }]);
    // Timer C longer than Timer B (64*T1 = 3.2 s here): a ringing branch is governed by Timer C.
    engine.proxy.timerCMs = 4000;
    const results = proxyWith(() => [silent.uri, ringing.uri], { provisionalTimeout: '300ms' });
    const started = Date.now();
    new Uac(caller, enginePort).sendInvite();
    await ringing.waitFor(isRequest('INVITE'), 'INVITE to the second target');
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    await caller.waitFor(isResponse(180), '180');
    const rangAt = Date.now();
    await ringing.waitFor(isRequest('CANCEL'), 'CANCEL on Timer C', 8000);
    expect(Date.now() - rangAt).toBeGreaterThanOrEqual(3900);
    const final = await caller.waitFor<SipResponse>(isResponse(408, 'INVITE'), '408');
    expect(final.getHeaderValues('Via')).toHaveLength(1);
    const r = await results;
    expect(r.finalStatus).toBe(408);
  });

  it('INFO during set-up is relayed to the ringing branch', async () => {
    const [a, caller] = await Promise.all([peer('a10'), peer('alice10')]);
    actAsUas(a, [{ status: 180 }, { status: 200, delayMs: 600 }]);
    const results = proxyWith(() => [a.uri], {});
    const uac = new Uac(caller, enginePort);
    uac.sendInvite();
    const ringing = await caller.waitFor<SipResponse>(isResponse(180), '180');
    // No Record-Route: the INFO (Request-URI = the target's Contact) reaches us only because the
    // caller sends everything our way.
    uac.sendInDialog('INFO', ringing);
    await a.waitFor(isRequest('INFO'), 'INFO at the target');
    await caller.waitFor(isResponse(200, 'INFO'), '200 to INFO');
    await caller.waitFor(isResponse(200, 'INVITE'), '200 to INVITE');
    expect((await results).finalStatus).toBe(200);
  });

  it('no target can be started -> NOK to the app and 500 upstream', async () => {
    const caller = await peer('alice11');
    const failure = proxyWith(() => ['sip:nobody@gone.invalid'], {}).then(() => 'resolved', (err: unknown) => err);
    new Uac(caller, enginePort).sendInvite();
    await caller.waitFor(isResponse(500), '500');
    expect(await failure).toBe('error proxying request to ');
  });

  it('a second proxy command for the same transaction gets NOK Unknown transaction id', async () => {
    const [a, caller] = await Promise.all([peer('a12'), peer('alice12')]);
    actAsUas(a, [{ status: 200 }]);
    const second = new Promise<unknown>((resolve) => {
      handler = (req) => {
        srf.proxyRequest(req, [a.uri], {}).catch(() => {});
        srf.proxyRequest(req, [a.uri], {}).then(() => resolve('resolved'), resolve);
      };
    });
    new Uac(caller, enginePort).sendInvite();
    const reason = await second;
    expect(reason).toMatch(/^Unknown transaction id: \S+$/);
    await caller.waitFor(isResponse(200, 'INVITE'), '200 from the first proxy operation');
    expect(a.requests('INVITE')).toHaveLength(1);
  });

  it('a request whose top Route is not ours is left to the core (here: 481 for an unknown dialog)', async () => {
    const p = await peer('stray');
    const bye = new SipRequest('BYE', `sip:bob@127.0.0.1:${enginePort}`);
    bye.addHeader('Via', `SIP/2.0/UDP 127.0.0.1:${p.port};branch=z9hG4bKstray1;rport`);
    bye.addHeader('Route', '<sip:192.0.2.1:5060;lr>');
    bye.addHeader('Max-Forwards', '70');
    bye.addHeader('From', '<sip:alice@example.com>;tag=s1');
    bye.addHeader('To', '<sip:bob@example.com>;tag=s2');
    bye.addHeader('Call-ID', 'stray-1@proxy-test');
    bye.addHeader('CSeq', '5 BYE');
    p.send(bye, enginePort);
    await p.waitFor(isResponse(481, 'BYE'), '481');
  });

  it('leaves no operation behind', async () => {
    await eventually(() => engine.proxy.size === 0, `proxy.size to reach 0 (is ${engine.proxy.size})`, 15_000);
  }, 20_000);
});

describe('proxy building blocks', () => {
  it('chooses the best response per RFC 3261 §16.7 step 6', () => {
    const c = (status: number, seq: number, synthetic = false) => ({ status, seq, synthetic });
    expect(chooseBest([])).toBeUndefined();
    expect(chooseBest([c(486, 0), c(603, 1), c(302, 2)])?.status).toBe(603);
    expect(chooseBest([c(486, 0), c(302, 1), c(503, 2)])?.status).toBe(302);
    expect(chooseBest([c(404, 0), c(486, 1)])?.status).toBe(404);
    expect(chooseBest([c(404, 0), c(415, 1)])?.status).toBe(415);
    expect(chooseBest([c(408, 0, true), c(480, 1)])?.status).toBe(480);
    expect(chooseBest([c(503, 0), c(500, 1)])?.status).toBe(500);
    expect(upstreamStatusFor(503)).toBe(500);
    expect(upstreamStatusFor(486)).toBe(486);
  });

  it('parses the proxy command leader (drachtio-protocol §7.1)', () => {
    const o = parseProxyCommand(
      ['m1', 'proxy', 'txn-1', 'remainInDialog', 'fullResponse', 'followRedirects', 'simultaneous', '2s', '1500ms', 'sip:a@x', '10.0.0.1:5080', ''],
      'INVITE sip:a@x SIP/2.0\r\nX-Foo: bar\r\n\r\n',
    );
    expect(o).toMatchObject({ txnId: 'txn-1', recordRoute: true, fullResponse: true, followRedirects: true, simultaneous: true, provisionalTimeoutMs: 2000, finalTimeoutMs: 1500 });
    expect(o.targets).toEqual(['sip:a@x', 'sip:10.0.0.1:5080']);
    expect(o.headers).toEqual([{ name: 'X-Foo', value: 'bar' }]);
    expect(parseDuration('5 s')).toBeUndefined();
    expect(parseProxyCommand(['m', 'proxy', 't', '', 'fullResponse', '', 'serial', '', '', 'sip:b@y'], '').recordRoute).toBe(false);
  });

  it('derives the same stateless branch for retransmissions and a CANCEL (RFC 3261 §16.11)', () => {
    const f = new StatelessForwarder({} as Engine);
    const mk = (method: string, branch: string) => {
      const r = new SipRequest(method, 'sip:b@127.0.0.1:5090');
      r.addHeader('Via', `SIP/2.0/UDP 127.0.0.1:5070;branch=${branch};received=127.0.0.1;rport=5070`);
      r.addHeader('Call-ID', 'x');
      r.addHeader('CSeq', `2 ${method}`);
      return r;
    };
    const b1 = f.branchFor(mk('INVITE', 'z9hG4bKabc'));
    expect(b1).toMatch(/^z9hG4bK/);
    expect(f.branchFor(mk('INVITE', 'z9hG4bKabc'))).toBe(b1);
    expect(f.branchFor(mk('CANCEL', 'z9hG4bKabc'))).toBe(b1);
    expect(f.branchFor(mk('INVITE', 'z9hG4bKabd'))).not.toBe(b1);
  });
});
