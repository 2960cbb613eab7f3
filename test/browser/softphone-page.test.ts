/**
 * The softphone page (softphone/) in real Chromium against the real engine, over real WSS.
 *
 * Layout (all inside one fresh network namespace that has only `lo`, except the test process):
 *
 *   Chromium  ──https──> 127.0.0.1:8443 ─relay─> Unix socket ─> static HTTPS server (test process)
 *   Chromium  ──wss────> 127.0.0.1:7443   engine (gateway/dist/cli engine, spawned in the namespace)
 *   engine admin 127.0.0.1:9022 <─relay─ Unix socket <─ 127.0.0.1:<port> <─ drachtio-srf app (test process)
 *
 * Chromium runs in the namespace through a wrapper executable (test/harness/chromium.ts);
 * Playwright drives it over its pipe. A second tab plays the far end of calls with a plain
 * RTCPeerConnection, so answered calls carry real SRTP between two peers on 127.0.0.1 (no
 * rtpengine yet).
 *
 * Needs root (namespaces) and /usr/bin/chromium; skipped otherwise. DEBUG_BROWSER_TEST=1 prints
 * the page's activity log, the browser console and the engine's output at the end; a failing test
 * prints them anyway.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type Srf from 'drachtio-srf';
import { ChromiumBrowser, chromiumUnavailableReason } from '../harness/chromium.js';
import { runCommandOrThrow } from '../harness/child-processes.js';
import { EngineProcess } from '../harness/engine.js';
import { registerExitCleanup } from '../harness/exit-cleanup.js';
import { NetworkNamespace, netnsUnavailableReason } from '../harness/netns.js';
import { engineCliPath, packageDir, repoRoot } from '../harness/repo-paths.js';
import { createSelfSignedCert, startStaticHttpsServer, type StaticHttpsServer } from '../harness/static-https.js';
// Types window.gatewayPhone inside page.evaluate (functions there run in the page and cannot use closures).
import type {} from '../../softphone/src/ui/test-api.js';
import { FarEnd, pageLoopbackCall } from './far-end.js';
import { NamespaceRelay } from './namespace-relay.js';
import { SipTestApp } from './sip-test-app.js';

const HTTPS_PORT = 8443;
const WSS_PORT = 7443;
const ADMIN_PORT = 9022;
const SECRET = 'browser-test';
const REALM = 'gateway.test';
const USERS = { alice: 'alice-secret' };
const PAGE_URL = `https://127.0.0.1:${HTTPS_PORT}/`;
const WSS_URL = `wss://127.0.0.1:${WSS_PORT}`;
/** expect.poll waits 1 s by default; a loaded CI machine needs more. */
const POLL = { timeout: 10_000, interval: 50 };

const skipReason = netnsUnavailableReason() ?? chromiumUnavailableReason();

/** `vite build` of softphone/ into outDir (not softphone/dist, so concurrent runs cannot collide). */
async function buildSoftphone(outDir: string): Promise<string> {
  const vite = join(packageDir('vite'), 'bin', 'vite.js');
  await runCommandOrThrow(process.execPath, [vite, 'build', '--logLevel', 'warn', '--outDir', outDir, '--emptyOutDir'], {
    cwd: join(repoRoot, 'softphone'),
  });
  return outDir;
}

async function ensureEngineBuilt(): Promise<void> {
  if (existsSync(engineCliPath())) return;
  const tsc = join(packageDir('typescript'), 'bin', 'tsc');
  await runCommandOrThrow(process.execPath, [tsc, '-p', join(repoRoot, 'gateway', 'tsconfig.json')], { cwd: repoRoot });
}

/** Resolves with the first value of `poll()` that satisfies `accept`, or fails after timeoutMs. */
async function eventually<T>(poll: () => Promise<T>, accept: (value: T) => boolean, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await poll();
    if (accept(last)) return last;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(last)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe.skipIf(skipReason)(`softphone page in Chromium, in a namespace, against the engine${skipReason ? ` — SKIPPED: ${skipReason}` : ''}`, () => {
  let dir: string;
  let netns: NetworkNamespace | undefined;
  let engine: EngineProcess | undefined;
  let https: StaticHttpsServer | undefined;
  let relay: NamespaceRelay | undefined;
  let app: SipTestApp | undefined;
  let browser: ChromiumBrowser | undefined;
  let page: Page;
  let farEnd: FarEnd;
  let unregisterDirCleanup: (() => void) | undefined;

  /** Diagnostics for a failing assertion: the page's activity log, browser console, engine output. */
  async function diagnostics(): Promise<string> {
    const events = await page?.evaluate(() => window.gatewayPhone.events).catch(() => []);
    return [
      `page events:\n${(events ?? []).map((e) => `  ${e.at} ${e.type} ${e.detail ?? ''}`).join('\n')}`,
      `browser console:\n${browser?.consoleLines.slice(-30).join('\n') ?? ''}`,
      `engine output (tail):\n${engine?.tail(30) ?? ''}`,
    ].join('\n');
  }

  async function signIn(): Promise<void> {
    if ((await page.evaluate(() => window.gatewayPhone.registrationState)) === 'registered') return;
    await page.evaluate((o) => window.gatewayPhone.register(o), { server: WSS_URL, user: 'alice', password: USERS.alice });
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gw-browser-'));
    const testDir = dir;
    unregisterDirCleanup = registerExitCleanup(() => rmSync(testDir, { recursive: true, force: true }));
    const [distDir, tls] = await Promise.all([buildSoftphone(join(dir, 'dist')), createSelfSignedCert(dir), ensureEngineBuilt()]);
    netns = await NetworkNamespace.create();
    engine = await EngineProcess.start({
      netns,
      label: 'engine (browser tests)',
      contact: `sips:127.0.0.1:${WSS_PORT};transport=wss`,
      adminPort: ADMIN_PORT,
      secret: SECRET,
      loglevel: 'info',
      extraArgs: ['--key-file', tls.keyFile, '--cert-file', tls.certFile],
    });
    const httpsSocket = join(dir, 'https.sock');
    https = await startStaticHttpsServer({ root: distDir, tls, listen: { path: httpsSocket } });
    relay = await NamespaceRelay.start(netns, {
      socketDir: dir,
      expose: [{ nsPort: HTTPS_PORT, socketPath: httpsSocket }],
      reach: [ADMIN_PORT],
    });
    app = await SipTestApp.connect({ host: '127.0.0.1', port: relay.hostPort(ADMIN_PORT), secret: SECRET, realm: REALM, users: USERS });
    browser = await ChromiumBrowser.launch({ netns });
    page = await browser.newPage();
    await page.goto(PAGE_URL);
    await page.waitForSelector('html[data-ready="true"]');
    const farPage = await browser.newPage();
    await farPage.goto(PAGE_URL);
    farEnd = await FarEnd.open(farPage);
    // A background tab gets no animation frames, and Playwright's clicks wait for them.
    await page.bringToFront();
  });

  afterAll(async () => {
    if (process.env.DEBUG_BROWSER_TEST) process.stderr.write(`${await diagnostics()}\n`);
    // Each step runs even when an earlier one failed; the namespace teardown kills anything left inside.
    const steps: Array<() => Promise<unknown> | unknown> = [
      () => browser?.close(),
      () => app?.disconnect(),
      () => relay?.stop(),
      () => https?.close(),
      () => engine?.stop(),
      () => netns?.destroy(),
      () => dir && rmSync(dir, { recursive: true, force: true }),
      () => unregisterDirCleanup?.(),
    ];
    for (const step of steps) {
      try {
        await step();
      } catch (error) {
        process.stderr.write(`browser test teardown: ${String(error)}\n`);
      }
    }
  });

  beforeEach(({ onTestFailed }) => {
    onTestFailed(async () => {
      process.stderr.write(`${await diagnostics()}\n`);
    });
  });

  it('serves the page over https in a secure context, with the phone API on window', async () => {
    expect(https!.requests).toContain('GET / 200');
    const env = await page.evaluate(() => ({
      secure: window.isSecureContext,
      media: typeof navigator.mediaDevices?.getUserMedia,
      api: Object.keys(window.gatewayPhone ?? {}),
      registration: document.getElementById('registration-state')?.textContent,
      server: (document.getElementById('server') as HTMLInputElement).value,
    }));
    expect(env).toMatchObject({ secure: true, media: 'function', registration: 'signed out', server: `wss://127.0.0.1:${HTTPS_PORT}` });
    expect(env.api).toEqual(expect.arrayContaining(['register', 'call', 'answer', 'hangup', 'hold', 'unhold', 'sendDtmf', 'stats']));
  });

  it('runs Chromium inside the namespace: only lo, only 127.0.0.1 ICE candidates, and fake audio flows between two peer connections', async () => {
    const links = await netns!.exec('ip', ['-o', 'link', 'show']);
    expect(links.stdout.trim().split('\n').map((line) => line.split(':')[1]?.trim())).toEqual(['lo']);
    const chromiumPids = (await netns!.exec('ip', ['netns', 'pids', netns!.name])).stdout.split(/\s+/).filter(Boolean);
    const commands = await Promise.all(chromiumPids.map((pid) => runCommandOrThrow('ps', ['-o', 'comm=', '-p', pid]).then((r) => r.stdout.trim(), () => '')));
    expect(commands.some((command) => /chrom/i.test(command))).toBe(true);

    const result = await page.evaluate(pageLoopbackCall);
    expect(result.track).toMatch(/fake/i);
    expect(result.connectionState).toBe('connected');
    expect(result.packetsReceived).toBeGreaterThan(0);
    expect(result.candidates.length).toBeGreaterThan(0);
    expect(result.candidates.filter((c) => !c.startsWith('127.0.0.1 '))).toEqual([]);
    expect(result.selectedPair).toMatch(/^127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+$/);
  });

  it('shows a server that cannot be reached', async () => {
    const error = await page.evaluate(() => window.gatewayPhone.register({ server: 'wss://127.0.0.1:7444', user: 'alice', password: 'x' }).then(() => 'registered', (e: Error) => e.message));
    expect(error).toMatch(/^Cannot connect to wss:\/\/127\.0\.0\.1:7444/);
    await expect.poll(() => page.locator('#error').textContent(), POLL).toMatch(/Cannot connect to wss:\/\/127\.0\.0\.1:7444/);
    expect(await page.locator('#registration-state').getAttribute('data-state')).toBe('failed');
    expect(await page.locator('#error').isVisible()).toBe(true);
  });

  it('shows a rejected password', async () => {
    const error = await page.evaluate((server) => window.gatewayPhone.register({ server, user: 'alice', password: 'wrong' }).then(() => 'registered', (e: Error) => e.message), WSS_URL);
    expect(error).toBe('Registration rejected: 403 Forbidden (check user name and password)');
    expect(await page.locator('#error').textContent()).toContain('403 Forbidden');
    expect(await page.locator('#registration-state').getAttribute('data-state')).toBe('failed');
    expect(app!.registerLog.slice(-2)).toEqual(['alice 401', 'alice 403']);
  });

  it('signs in through the form: REGISTER over WSS with digest authentication, page shows Registered', async () => {
    await page.fill('#server', WSS_URL);
    await page.fill('#user', 'alice');
    await page.fill('#password', USERS.alice);
    await page.click('#sign-in');
    await expect.poll(() => page.locator('#registration-state').textContent(), POLL).toBe('Registered');
    expect(await page.locator('#error').isHidden()).toBe(true);
    expect(await page.locator('#aor').textContent()).toBe('as sip:alice@127.0.0.1');
    expect(app!.registerLog.slice(-2)).toEqual(['alice 401', 'alice 200']);
    const registration = app!.registrations.get('alice');
    expect(registration?.transport).toBe('WSS');
    expect(registration?.contactUri).toMatch(/^sip:alice@[^;]+\.invalid;transport=ws$/);
  });

  it('shows an outgoing call that the far end rejects with 486', async () => {
    await signIn();
    let seen: Srf.SrfRequest | undefined;
    app!.onInvite = (req, res) => {
      seen = req;
      res.send(486);
    };
    const error = await page.evaluate(() => window.gatewayPhone.call('bob').then(() => 'answered', (e: Error) => e.message));
    expect(error).toBe('Call failed: 486 Busy Here');
    expect(seen?.uri).toBe('sip:bob@127.0.0.1');
    expect(seen?.body).toMatch(/^m=audio \d+ UDP\/TLS\/RTP\/SAVPF /m);
    await expect.poll(() => page.locator('#error').textContent(), POLL).toBe('Call failed: 486 Busy Here');
    expect(await page.locator('#last-call').getAttribute('data-status')).toBe('486');
    expect(await page.locator('#call-state').getAttribute('data-state')).toBe('idle');
  });

  it('places a call through the dial box that the far end answers: media flows, then the far end hangs up', async () => {
    await signIn();
    let dialog: Srf.Dialog | undefined;
    const answered = new Promise<Srf.Dialog>((resolve, reject) => {
      app!.onInvite = async (req, res) => {
        const answer = await farEnd.answer(req.body);
        dialog = await app!.srf.createUAS(req, res, { localSdp: answer });
        resolve(dialog);
      };
      setTimeout(() => reject(new Error('no INVITE reached the app')), 15_000);
    });
    await page.fill('#target', 'carol');
    await page.click('#call');
    const dlg = await answered;
    await expect.poll(() => page.locator('#call-state').getAttribute('data-state'), POLL).toBe('active');
    expect(await page.locator('#call-remote').textContent()).toBe('to sip:carol@127.0.0.1');

    const stats = await eventually(
      () => page.evaluate(() => window.gatewayPhone.stats()),
      (s) => (s?.packetsReceived ?? 0) > 20 && (s?.packetsSent ?? 0) > 20,
      10_000,
      'RTP both ways',
    );
    expect(stats).toMatchObject({ connectionState: 'connected', codec: 'audio/opus' });
    expect(stats!.localCandidate).toMatch(/^127\.0\.0\.1:/);
    expect(stats!.remoteCandidate).toMatch(/^127\.0\.0\.1:/);
    expect((await farEnd.inbound()).packetsReceived).toBeGreaterThan(0);
    // The fake microphone beeps: the level of what arrives is measurable, and it plays in <audio>.
    const heard = await eventually(
      () => page.evaluate(() => window.gatewayPhone.stats()),
      (s) => (s?.audioLevel ?? 0) > 0,
      10_000,
      'a non-zero inbound audioLevel',
    );
    expect(heard!.totalAudioEnergy).toBeGreaterThan(0);
    const audio = await page.evaluate(() => {
      const element = document.getElementById('remote-audio') as HTMLAudioElement;
      const stream = element.srcObject as MediaStream | null;
      return { paused: element.paused, tracks: stream?.getAudioTracks().length ?? 0 };
    });
    expect(audio).toEqual({ paused: false, tracks: 1 });

    dlg.destroy();
    await expect.poll(() => page.locator('#call-state').getAttribute('data-state'), POLL).toBe('idle');
    expect(await page.locator('#last-call').textContent()).toContain('ended — remote hung up');
  });

  it('answers an incoming call: 200 with WebRTC SDP, hold/resume by re-INVITE, DTMF by INFO and RFC 4733, hang up with BYE', async () => {
    await signIn();
    const registration = app!.registrations.get('alice');
    expect(registration).toBeDefined();
    const contactHost = /^sip:alice@([^;>]+);transport=ws$/.exec(registration!.contactUri)?.[1];
    expect(contactHost).toMatch(/\.invalid$/);

    // The app calls the registered browser as sip:alice@<contact host>: the engine knows that
    // user@host from the REGISTER's Contact and sends the INVITE down the same WSS connection.
    const offer = await farEnd.offer();
    const calling = app!.srf.createUAC(`sip:alice@${contactHost!}`, {
      localSdp: offer,
      headers: { From: '"Bob Desk" <sip:bob@127.0.0.1>' },
    });
    calling.catch(() => undefined);
    await expect.poll(() => page.locator('#call-state').getAttribute('data-state'), POLL).toBe('incoming');
    expect(await page.locator('#incoming').isVisible()).toBe(true);
    expect(await page.locator('#incoming-from').textContent()).toBe('Bob Desk <sip:bob@127.0.0.1>');

    await page.click('#answer');
    const dlg = await calling;
    const answer = dlg.remote.sdp;
    expect(answer).toMatch(/^m=audio \d+ UDP\/TLS\/RTP\/SAVPF /m);
    expect(answer).toMatch(/^a=fingerprint:sha-256 /m);
    expect(answer).toMatch(/^a=ice-ufrag:/m);
    expect(answer).toMatch(/^a=setup:active/m);
    expect(answer).toMatch(/^a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 \d+ typ host/m);
    await farEnd.accept(answer);
    await expect.poll(() => page.locator('#call-state').getAttribute('data-state'), POLL).toBe('active');
    await eventually(() => page.evaluate(() => window.gatewayPhone.stats()), (s) => (s?.packetsReceived ?? 0) > 10, 10_000, 'inbound RTP');

    // Hold and resume: the far end sees re-INVITEs offering sendonly, then sendrecv.
    const reinvites: string[] = [];
    dlg.on('modify', (req, res) => {
      reinvites.push(/^a=(sendrecv|sendonly|recvonly|inactive)/m.exec(req.body)?.[1] ?? 'none');
      void farEnd.answer(req.body).then((sdp) => res.send(200, { body: sdp, headers: { 'Content-Type': 'application/sdp' } }));
    });
    await page.click('#hold');
    await expect.poll(() => page.locator('#call-state').getAttribute('data-state'), POLL).toBe('held');
    await page.evaluate(() => window.gatewayPhone.unhold());
    expect(await page.locator('#call-state').getAttribute('data-state')).toBe('active');
    expect(reinvites).toEqual(['sendonly', 'sendrecv']);

    // DTMF: INFO application/dtmf-relay, and RFC 4733 through the RTCDTMFSender.
    const infos: Array<{ type: string; body: string }> = [];
    dlg.on('info', (req, res) => {
      infos.push({ type: req.get('Content-Type'), body: req.body });
      res.send(200);
    });
    await page.evaluate(() => window.gatewayPhone.sendDtmf('5'));
    await page.selectOption('#dtmf-mode', 'info');
    await page.click('#keypad button[data-digit="#"]');
    await expect.poll(() => infos.length, POLL).toBe(2);
    expect(infos).toEqual([
      { type: 'application/dtmf-relay', body: 'Signal=5\r\nDuration=160' },
      { type: 'application/dtmf-relay', body: 'Signal=#\r\nDuration=160' },
    ]);
    const dtmfSent = async (): Promise<Array<string | undefined>> =>
      (await page.evaluate(() => window.gatewayPhone.events)).filter((e) => e.type === 'dtmf').map((e) => e.detail);
    await expect.poll(dtmfSent, POLL).toEqual(['5 (INFO)', '# (INFO)']); // the keypad's INFO got its 200
    await page.evaluate(() => window.gatewayPhone.sendDtmf('7', 'rfc4733'));
    expect(await dtmfSent()).toEqual(['5 (INFO)', '# (INFO)', '7 (RFC 4733)']);
    expect(infos).toHaveLength(2); // RFC 4733 digits travel in RTP, not as INFO

    // Hang up from the page: BYE reaches the app.
    const ended = new Promise<void>((resolve) => dlg.on('destroy', () => resolve()));
    await page.click('#hangup');
    await ended;
    await expect.poll(() => page.locator('#call-state').getAttribute('data-state'), POLL).toBe('idle');
    expect(await page.locator('#last-call').textContent()).toContain('ended — hung up');
  });

  it('signs out with an un-REGISTER', async () => {
    await signIn();
    await page.click('#sign-out');
    await expect.poll(() => page.locator('#registration-state').getAttribute('data-state'), POLL).toBe('signed-out');
    expect(app!.registerLog.at(-1)).toBe('alice 200 (unregister)');
    expect(app!.registrations.has('alice')).toBe(false);
  });
}, 60_000);
