/**
 * The README's "call a desk phone by hand" walkthrough, done the way a newcomer would, from the
 * README's own text (so the README cannot drift from what works):
 *   1. the JSON configuration block naming the desk phone -> GATEWAY_CONFIG
 *   2. `gateway start` (what `npm start` runs after its install/build check), demo users printed
 *   3. the README's SIPp command line, as is
 *   4. Chromium opens the printed link for alice, types the printed password, signs in, dials
 *      `desk` with the page's own form and buttons; the call connects and audio comes back
 *      (SIPp echoes it: the page's inbound RTP grows).
 * Everything runs in a fresh network namespace with only `lo` (Chromium's media stays there).
 */
import { type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChromiumBrowser } from '../harness/chromium.js';
import { OutputCapture, stopChild } from '../harness/child-processes.js';
import { NetworkNamespace } from '../harness/netns.js';
import { engineCliPath, repoRoot } from '../harness/repo-paths.js';
import { PhonePage, skipReason, until } from './e2e-fixture.js';

const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/```(\w*)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1], text: m[2] }));
const configBlock = blocks.find((b) => b.lang === 'json' && b.text.includes('"phones"'));
const sippLine = blocks.flatMap((b) => b.text.split('\n')).find((l) => l.startsWith('sipp '));

describe.skipIf(skipReason)(`README walkthrough: a browser calls a SIPp desk phone by hand${skipReason ? ` — SKIPPED: ${skipReason}` : ''}`, () => {
  let dir: string;
  let ns: NetworkNamespace;
  let gateway: ChildProcess;
  let output: OutputCapture;
  let sipp: ChildProcess;
  let browser: ChromiumBrowser | undefined;

  beforeAll(async () => {
    expect(configBlock, 'README has a JSON config block with "phones"').toBeDefined();
    expect(sippLine, 'README has a `sipp ...` command line').toBeDefined();
    dir = mkdtempSync(join(tmpdir(), 'gw-readme-'));
    writeFileSync(join(dir, 'gateway.json'), configBlock!.text);
    ns = await NetworkNamespace.create();
    output = new OutputCapture(1_000_000, join(dir, 'gateway.log'));
    gateway = ns.spawn(process.execPath, [engineCliPath(), 'start'], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, GATEWAY_CONFIG: join(dir, 'gateway.json'), GATEWAY_LOG_LEVEL: 'info' },
    });
    output.attach(gateway);
    await until(() => output.output, (o) => /sign in as alice \/ \S+: \S+/.test(o), 60_000, `the demo sign-in lines (output: ${output.tail(20)})`);
  }, 90_000);

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    if (sipp) await stopChild(sipp, 1000).catch(() => undefined);
    if (gateway) await stopChild(gateway, 5000).catch(() => undefined);
    output?.close();
    await ns?.destroy().catch(() => undefined);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it('signs in with the printed link and password, dials desk, and hears the echo', async () => {
    const [, password, link] = /sign in as alice \/ (\S+): (\S+)/.exec(output.output)!;
    const [command, ...args] = sippLine!.replace(/#.*$/, '').trim().split(/\s+/);
    sipp = ns.spawn(command!, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });

    browser = await ChromiumBrowser.launch({ netns: ns });
    const page = await browser.newPage();
    await page.goto(link!);
    await page.waitForSelector('html[data-ready="true"]');
    await page.fill('#password', password!);
    await page.click('#sign-in');
    await page.waitForSelector('#registration-state[data-state="registered"]', { timeout: 20_000 });
    await page.fill('#target', 'desk');
    await page.click('#call');
    const phone = new PhonePage(page, 'alice');
    await phone.waitCallState('active', 20_000);
    const flow = await phone.waitInboundFlowing(25, 2000);
    expect(flow.grew).toBeGreaterThanOrEqual(25); // SIPp's echo of alice's audio, through rtpengine
    await page.click('#hangup');
    await phone.waitCallState('idle', 10_000);
  }, 90_000);
});
