/**
 * End-to-end fixture: the whole product, as shipped, in one fresh network namespace per test file.
 *
 *   ip netns exec NS node gateway/dist/cli/index.js start     (GATEWAY_CONFIG = generated file)
 *     engine child: sip:127.0.0.1:5060 udp+tcp, sips:127.0.0.1:7443 wss (self-signed cert)
 *     app: registrar (alice, bob), static phones (SIPp UAS, SIPp UAC, Node desk phone), B2BUA
 *     rtpengine (local daemon, own port range, --listen-cli for rtpengine-ctl)
 *     https://127.0.0.1:8443/ softphone page + /api/status
 *   Chromium (test/harness/chromium.ts wrapper), SIPp and the Node desk phone run inside too.
 *
 * The namespace has only `lo`, so every packet stays on its loopback. The test process itself
 * stays outside and talks to the inside only through child processes (curl, rtpengine-ctl, SIPp,
 * desk-phone.cjs) and Playwright's pipe to Chromium.
 *
 * Everything started here is stopped by stop(), even after a failure; an exit hook removes the
 * temporary directory and the namespace (which kills whatever is left inside) if the process dies.
 */
import { type ChildProcess } from 'node:child_process';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { userWithPassword } from '../../gateway/src/config/loader';
import { ChromiumBrowser, chromiumUnavailableReason } from '../harness/chromium.js';
import { OutputCapture, findExecutable, runCommandOrThrow, stopChild } from '../harness/child-processes.js';
import { registerExitCleanup } from '../harness/exit-cleanup.js';
import { NetworkNamespace, netnsUnavailableReason } from '../harness/netns.js';
import { PortSequence } from '../harness/ports.js';
import { engineCliPath, repoRoot } from '../harness/repo-paths.js';
import { startSipp, type SippOptions } from '../harness/sipp.js';
import { createSelfSignedCert } from '../harness/static-https.js';
import { DeskPhone, PhonePage, SippRun, until } from './e2e-parts.js';

export { DeskPhone, PhonePage, POLL, SippRun, sleep, until, type DeskPhoneLine } from './e2e-parts.js';

export const REALM = 'e2e.gateway';
export const PASSWORDS = { alice: 'alice-e2e-secret', bob: 'bob-e2e-secret' } as const;
/** Fixed ports inside the namespace (nothing else lives there). */
export const PORTS = { sip: 5060, wss: 7443, https: 8443, admin: 9022, ng: 22222, cli: 9900 } as const;
/** Static phones the gateway trusts by address; SIPp/desk-phone.cjs bind exactly these ports. */
export const PHONES = { desk: 5080, sippuac: 5090, sippuac2: 5092, dtmfdesk: 5082 } as const;
export const PAGE_URL = `https://127.0.0.1:${PORTS.https}/`;
export const WSS_URL = `wss://127.0.0.1:${PORTS.wss}`;
export const SCENARIOS = fileURLToPath(new URL('./scenarios/', import.meta.url));
export const skipReason: string | undefined =
  netnsUnavailableReason() ??
  chromiumUnavailableReason() ??
  (['rtpengine', 'rtpengine-ctl', 'sipp', 'curl', 'openssl'].map((p) => (findExecutable(p) ? undefined : `${p} is not installed`)).find(Boolean));

export interface GatewayStatus {
  calls: number;
  registrar: { aors: number; bindings: number; byTransport: Record<string, number> };
  rtpengine: { activeCalls: number; healthyEngines: number };
}

/** Packet numbers seen by the tests, printed at the end of each file (for the record). */
export const measurements: string[] = [];
export function note(line: string): void {
  measurements.push(line);
}

async function ensureBuilt(): Promise<void> {
  if (existsSync(engineCliPath()) && existsSync(join(repoRoot, 'softphone', 'dist', 'index.html'))) return;
  await runCommandOrThrow('npm', ['run', 'build'], { cwd: repoRoot });
}

export class E2E {
  readonly sippMediaPorts = new PortSequence(6000, 6996, 4);
  readonly sippControlPorts = new PortSequence(8800, 8899);
  private browser: ChromiumBrowser | undefined;
  private readonly pages: PhonePage[] = [];
  private readonly sipps = new Set<SippRun>();
  private sippCount = 0;
  private readonly others = new Set<ChildProcess>();
  private gatewayExit: string | undefined;

  private constructor(
    readonly label: string,
    readonly dir: string,
    readonly ns: NetworkNamespace,
    readonly gateway: ChildProcess,
    readonly gatewayOutput: OutputCapture,
    private readonly unregisterDir: () => void,
  ) {
    gateway.once('exit', (code, signal) => (this.gatewayExit = `gateway exited (${code ?? signal})`));
  }

  /** Namespace, certificate, config, `gateway start` inside; resolves once the page URL is printed. */
  static async start(label: string, adjust?: (config: Record<string, unknown>) => void): Promise<E2E> {
    await ensureBuilt();
    const dir = mkdtempSync(join(tmpdir(), 'gw-e2e-'));
    const unregisterDir = registerExitCleanup(() => rmSync(dir, { recursive: true, force: true }));
    let ns: NetworkNamespace | undefined;
    let gateway: ChildProcess | undefined;
    try {
      const tls = await createSelfSignedCert(dir);
      // SIPp's play_pcap_audio takes paths relative to its working directory (recipes §2).
      mkdirSync(join(dir, 'pcap'));
      for (const f of readdirSync('/usr/share/sip-tester')) symlinkSync(join('/usr/share/sip-tester', f), join(dir, 'pcap', f));
      const portMin = 30_000 + 200 * randomInt(0, 45); // a range of its own per file, 200 ports wide
      const config: Record<string, unknown> = {
        realm: REALM,
        domain: '127.0.0.1',
        users: Object.entries(PASSWORDS).map(([user, password]) => userWithPassword(user, REALM, password)),
        phones: Object.entries(PHONES).map(([name, port]) => ({ username: name, uri: `sip:${name}@127.0.0.1:${port}` })),
        rtpengine: {
          mode: 'local',
          local: { ngPort: PORTS.ng, portMin, portMax: portMin + 199, extraArgs: [`--listen-cli=127.0.0.1:${PORTS.cli}`] },
        },
        http: { host: '127.0.0.1', port: PORTS.https, certFile: tls.certFile, keyFile: tls.keyFile },
        sip: {
          contacts: [`sip:127.0.0.1:${PORTS.sip};transport=udp,tcp`, `sips:127.0.0.1:${PORTS.wss};transport=wss`],
          certFile: tls.certFile,
          keyFile: tls.keyFile,
        },
      };
      adjust?.(config);
      const configFile = join(dir, 'gateway.json');
      writeFileSync(configFile, JSON.stringify(config, null, 2));
      ns = await NetworkNamespace.create();
      const output = new OutputCapture(2_000_000, join(dir, 'gateway.log'));
      gateway = ns.spawn(process.execPath, [engineCliPath(), 'start'], {
        cwd: repoRoot,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          GATEWAY_CONFIG: configFile,
          GATEWAY_ENGINE_ADMIN_PORT: String(PORTS.admin),
          GATEWAY_LOG_LEVEL: process.env.E2E_LOG_LEVEL ?? 'info',
        },
      });
      output.attach(gateway);
      const started = gateway;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`gateway did not print its page URL within 60 s:\n${output.tail(40)}`)), 60_000);
        const check = (): void => {
          if (output.output.includes(`Softphone: ${PAGE_URL}`)) {
            clearTimeout(timer);
            resolve();
          }
        };
        started.stdout?.on('data', check);
        started.once('exit', (code, signal) => {
          clearTimeout(timer);
          reject(new Error(`gateway exited (${code ?? signal}) before it was ready:\n${output.tail(40)}`));
        });
      });
      return new E2E(label, dir, ns, gateway, output, unregisterDir);
    } catch (error) {
      if (gateway) await stopChild(gateway, 3000).catch(() => undefined);
      await ns?.destroy().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
      unregisterDir();
      throw error;
    }
  }

  /** GET /api/status from inside the namespace (a loopback client, as the endpoint requires). */
  async status(): Promise<GatewayStatus> {
    const r = await this.ns.exec('curl', ['-sk', '--max-time', '5', `${PAGE_URL}api/status`]);
    if (r.code !== 0) throw new Error(`curl /api/status failed (${r.code}): ${r.stderr}`);
    return JSON.parse(r.stdout) as GatewayStatus;
  }

  /** rtpengine's own count of sessions (rtpengine-ctl over --listen-cli, inside the namespace). */
  async rtpengineSessions(): Promise<number> {
    const r = await this.ns.exec('rtpengine-ctl', ['-ip', '127.0.0.1', '-port', String(PORTS.cli), 'list', 'numsessions']);
    const m = /sessions total:\s*(\d+)/i.exec(r.stdout) ?? /sessions own:\s*(\d+)/i.exec(r.stdout);
    if (!m) throw new Error(`unexpected rtpengine-ctl output (${r.code}): ${r.stdout}${r.stderr}`);
    return Number(m[1]);
  }

  /** rtpengine-ctl `list sessions all`, then `list sessions <call-id>` for each call (per-stream packet counters). */
  async rtpengineDump(): Promise<string> {
    const ctl = (...args: string[]) => this.ns.exec('rtpengine-ctl', ['-ip', '127.0.0.1', '-port', String(PORTS.cli), ...args]).then((r) => r.stdout + r.stderr);
    const all = await ctl('list', 'sessions', 'all');
    const ids = [...all.matchAll(/callid:\s*(\S+)/gi)].map((m) => m[1]!);
    const details = await Promise.all(ids.map((id) => ctl('list', 'sessions', id)));
    return [all, ...details].join('\n');
  }

  /**
   * RTP packets rtpengine has received from 127.0.0.1:port (a SIPp media port) in its current
   * sessions: with -rtp_echo that is what SIPp got from rtpengine and sent back.
   */
  async rtpenginePacketsFrom(port: number): Promise<number> {
    let total = 0;
    for (const m of (await this.rtpengineDump()).matchAll(/<>\s+127\.0\.0\.1:(\d+)\s*,\s*SSRC \w+,\s*(\d+) p/g)) {
      if (Number(m[1]) === port) total += Number(m[2]);
    }
    return total;
  }

  /** Waits until the app has no calls and rtpengine no sessions. */
  async waitIdle(timeoutMs = 20_000): Promise<{ calls: number; sessions: number }> {
    return until(
      async () => ({ calls: (await this.status()).calls, sessions: await this.rtpengineSessions() }),
      (v) => v.calls === 0 && v.sessions === 0,
      timeoutMs,
      'no calls in the app and no rtpengine sessions',
    );
  }

  /** A softphone tab signed in as `user` over WSS (one Chromium per file, one tab per user). */
  async phone(user: keyof typeof PASSWORDS): Promise<PhonePage> {
    this.browser ??= await ChromiumBrowser.launch({ netns: this.ns });
    const page = await this.browser.newPage();
    // Keep a handle on every RTCPeerConnection the page makes, for raw getStats in diagnostics.
    await page.addInitScript(() => {
      const Native = window.RTCPeerConnection;
      const all: RTCPeerConnection[] = [];
      (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs = all;
      window.RTCPeerConnection = class extends Native {
        constructor(config?: RTCConfiguration) {
          super(config);
          all.push(this);
        }
      } as typeof RTCPeerConnection;
    });
    await page.goto(PAGE_URL);
    await page.waitForSelector('html[data-ready="true"]');
    const phone = new PhonePage(page, user);
    this.pages.push(phone);
    await page.evaluate((o) => window.gatewayPhone.register(o), { server: WSS_URL, user, password: PASSWORDS[user] });
    return phone;
  }

  /**
   * SIPp inside the namespace on 127.0.0.1, with its own media and control ports; cwd has pcap/.
   * Every SIP message it sends or receives goes to a message log (-trace_msg), so tests can wait
   * for a step of the scenario (e.g. "SIPp has sent its 180").
   */
  sipp(options: Omit<SippOptions, 'localIp' | 'mediaPort' | 'controlPort' | 'netns' | 'cwd'> & { mediaPort?: number }): SippRun {
    const messageFile = join(this.dir, `sipp-${++this.sippCount}-messages.log`);
    const sipp = startSipp({
      localIp: '127.0.0.1',
      mediaPort: options.mediaPort ?? this.sippMediaPorts.take(),
      controlPort: this.sippControlPorts.take(),
      netns: this.ns,
      cwd: this.dir,
      timeoutSec: 120,
      ...options,
      extraArgs: ['-trace_msg', '-message_file', messageFile, ...(options.extraArgs ?? [])],
      scenario: 'file' in options.scenario ? { file: join(SCENARIOS, options.scenario.file) } : options.scenario,
    });
    const run = new SippRun(sipp, messageFile);
    this.sipps.add(run);
    return run;
  }

  /** The Node desk phone (desk-phone.cjs) inside the namespace; resolves once its sockets are bound. */
  async deskPhone(sipPort: number, rtpPort: number): Promise<DeskPhone> {
    const child = this.spawnInside(process.execPath, [fileURLToPath(new URL('./desk-phone.cjs', import.meta.url)), JSON.stringify({ sipPort, rtpPort })]);
    const phone = new DeskPhone(child);
    await phone.waitFor((l) => l.type === 'ready', 10_000, 'desk-phone.cjs ready');
    return phone;
  }

  /** Spawns a program inside the namespace; stopped by stop(). */
  spawnInside(command: string, args: string[]): ChildProcess {
    const child = this.ns.spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.others.add(child);
    child.once('exit', () => this.others.delete(child));
    return child;
  }

  /** After each test: end whatever a failed test left behind (page calls, SIPp), then wait for idle. */
  async cleanUp(): Promise<void> {
    for (const p of this.pages) {
      if ((await p.callState().catch(() => 'idle')) !== 'idle') {
        await p.page.evaluate(() => window.gatewayPhone.hangup()).catch(() => undefined);
        await p.waitCallState('idle', 10_000).catch(() => undefined);
      }
    }
    await Promise.all([...this.sipps].filter((s) => s.process.running).map((s) => s.process.stop(1000)));
    await this.waitIdle(15_000).catch(() => undefined);
  }

  /** What a failing test should print. */
  async diagnostics(): Promise<string> {
    const parts: string[] = [];
    for (const p of this.pages) {
      const events = await p.page.evaluate(() => window.gatewayPhone.events).catch(() => []);
      parts.push(`page ${p.user} events:\n${events.slice(-40).map((e) => `  ${e.at} ${e.type} ${e.detail ?? ''}`).join('\n')}`);
      parts.push(`page ${p.user} peer connection: ${JSON.stringify(await p.peerConnectionSummary().catch((e: Error) => e.message))}`);
    }
    for (const s of this.sipps) parts.push(`sipp ${JSON.stringify(s.process.options.scenario)} (running=${s.process.running}):\n${s.process.output.slice(-1500)}\nmessages:\n${s.messages().slice(-3000)}`);
    parts.push(`rtpengine:\n${await this.rtpengineDump().catch((e: Error) => e.message)}`);
    parts.push(`browser console:\n${this.browser?.consoleLines.slice(-20).join('\n') ?? ''}`);
    parts.push(`gateway ${this.gatewayExit ?? 'running'}, output tail:\n${this.gatewayOutput.tail(60)}`);
    return parts.join('\n');
  }

  /** Stops everything (each step runs even if an earlier one failed). */
  async stop(): Promise<void> {
    const steps: Array<() => Promise<unknown> | unknown> = [
      () => Promise.all([...this.sipps].map((s) => s.process.stop(1000))),
      () => Promise.all([...this.others].map((c) => stopChild(c, 1000))),
      () => this.browser?.close(),
      () => stopChild(this.gateway, 5000),
      () => this.gatewayOutput.close(),
      () => this.ns.destroy(),
      // E2E_KEEP_LOGS=<dir>: keep the gateway's full output and the SIPp message logs.
      () => process.env.E2E_KEEP_LOGS && cpSync(this.dir, join(process.env.E2E_KEEP_LOGS, `${this.label}-${Date.now()}`), { recursive: true, filter: (f) => !/\/pcap\b|\.pem$/.test(f) }),
      () => rmSync(this.dir, { recursive: true, force: true }),
      () => this.unregisterDir(),
    ];
    for (const step of steps) {
      try {
        await step();
      } catch (error) {
        process.stderr.write(`e2e teardown (${this.label}): ${String(error)}\n`);
      }
    }
  }
}

/**
 * Call inside a describe(): starts the fixture in beforeAll and stops it in afterAll; after each
 * test, prints diagnostics when it failed and ends whatever it left behind (calls, SIPp).
 * Debugging knobs (environment): E2E_LOG_LEVEL (gateway log level, default info; debug shows
 * rtpengine's output), E2E_DEBUG=1 (diagnostics at the end of every file), E2E_KEEP_LOGS=<dir>
 * (keep the gateway log, config and SIPp message logs), E2E_CONFIG_PATCH='{"media":{...}}'
 * (merged into the generated config's rtpengine section, for experiments), E2E_WEBRTC_LOG=1 with
 * DEBUG=pw:browser (Chromium's WebRTC receive-side log: which SSRC its audio output follows).
 */
export function e2eSuite(label: string): { get: () => E2E } {
  let e2e: E2E | undefined;
  beforeAll(async () => {
    measurements.length = 0;
    const patch = process.env.E2E_CONFIG_PATCH;
    e2e = await E2E.start(label, patch ? (c) => Object.assign(c.rtpengine as object, JSON.parse(patch)) : undefined);
  }, 120_000);
  afterAll(async () => {
    if (measurements.length) process.stdout.write(`\n[${label}] measurements:\n  ${measurements.join('\n  ')}\n`);
    if (process.env.E2E_DEBUG && e2e) process.stdout.write(`${await e2e.diagnostics()}\n`);
    await e2e?.stop();
  }, 60_000);
  afterEach(async ({ task }) => {
    if (!e2e) return;
    if (task.result?.state === 'fail') process.stderr.write(`\n[${label}] diagnostics for "${task.name}":\n${await e2e.diagnostics()}\n`);
    await e2e.cleanUp();
  }, 60_000);
  return {
    get: () => {
      if (!e2e) throw new Error('e2e fixture not started');
      return e2e;
    },
  };
}
