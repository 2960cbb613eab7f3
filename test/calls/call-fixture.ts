/**
 * The whole gateway for B2BUA tests: the engine in-process on loopback (RFC 3261 default timers),
 * the real app from gateway/src/app (startGatewayApp) with its own rtpengine daemon on a free ng
 * port and a private media port range, raw desk phones configured in config.phones (trusted by
 * address), the users alice and bob (digest), and helpers to look into rtpengine and to run SIPp.
 */
import dgram from 'node:dgram';
import { randomInt } from 'node:crypto';
import { mkdtempSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGatewayApp, type GatewayApp } from '../../gateway/src/app';
import { parseConfig, userWithPassword } from '../../gateway/src/config/loader';
import type { GatewayConfig } from '../../gateway/src/config/schema';
import type { NgQueryReply } from '../../gateway/src/app/media/ng-types';
import { SECRET, routed, startEngine, type RunningEngine } from '../engine/engine-fixture';
import { freeUdpPort } from '../media/rtpengine-fixture';
import { DOMAIN, PASSWORDS, REALM } from '../registrar/registrar-fixture';
import { SipPhone } from './sip-phone';

export { REALM, DOMAIN, PASSWORDS };

export interface CallStack {
  running: RunningEngine;
  app: GatewayApp;
  config: GatewayConfig;
  gatewayPort: number;
  phones: Record<string, SipPhone>;
  /** rtpengine call-ids right now. */
  list(): Promise<string[]>;
  query(callId: string): Promise<NgQueryReply>;
  /** Waits until the engine has no dialogs, the app no calls and rtpengine no sessions (unless told it is gone). */
  assertClean(timeoutMs?: number, options?: { rtpengineGone?: boolean }): Promise<void>;
  /** Resets every raw phone (messages, dialog, fresh RTP socket). */
  resetPhones(): Promise<void>;
  stop(): Promise<void>;
}

export interface CallStackOptions {
  /** Raw desk phones to create and configure (their names are their usernames). */
  phones?: string[];
  /** Further static phones (e.g. SIPp instances on fixed ports). */
  staticPhones?: Array<{ username: string; uri: string }>;
  /** Overrides for config.rtpengine (e.g. remote mode). */
  rtpengine?: Record<string, unknown>;
  /** config.calls */
  calls?: Record<string, unknown>;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function until<T>(probe: () => T | Promise<T>, ok: (v: T) => boolean, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(value)})`);
    await sleep(50);
  }
}

/**
 * Both phones send audio for `ms`; resolves with what each received meanwhile (RTP through the
 * gateway's rtpengine session between them).
 */
export async function exchangeAudio(a: SipPhone, b: SipPhone, ms = 1200): Promise<{ a: number; b: number }> {
  const since = Date.now();
  a.rtp.startAudio();
  b.rtp.startAudio();
  await sleep(ms);
  a.rtp.stopAudio();
  b.rtp.stopAudio();
  await sleep(100);
  return { a: a.rtp.count(since, 0), b: b.rtp.count(since, 0) };
}

export async function startCallStack(options: CallStackOptions = {}): Promise<CallStack> {
  const running = await startEngine({ timers: { t1: 500, t2: 4000, t4: 5000 } });
  const gatewayPort = running.port('udp');
  const phones: Record<string, SipPhone> = {};
  let app: GatewayApp | undefined;
  let config: GatewayConfig | undefined;
  try {
    for (const name of options.phones ?? []) phones[name] = await SipPhone.open(name, gatewayPort);
    let lastError: unknown;
    for (let attempt = 0; attempt < 3 && !app; attempt++) {
      const portMin = 2 * randomInt(10_000, 14_500); // 20000-29000: below RtpPhone's 40000-58000
      config = parseConfig({
        realm: REALM,
        domain: DOMAIN,
        users: Object.entries(PASSWORDS).map(([user, password]) => userWithPassword(user, REALM, password)),
        phones: [
          ...Object.values(phones).map((p) => ({ username: p.name, uri: `sip:${p.name}@127.0.0.1:${p.port}` })),
          ...(options.staticPhones ?? []),
        ],
        calls: options.calls ?? {},
        rtpengine: {
          mode: 'local',
          local: { ngPort: await freeUdpPort(), portMin, portMax: portMin + 399 },
          timeoutMs: 500,
          retries: 2,
          healthIntervalMs: 1000,
          ...options.rtpengine,
        },
      });
      try {
        app = await startGatewayApp({ host: '127.0.0.1', port: running.engine.adminPort, secret: SECRET }, config);
      } catch (error) {
        lastError = error; // the ng port was taken in between: another one
      }
    }
    if (!app || !config) throw lastError;
    await routed(running.engine, 'invite', 'register');
  } catch (error) {
    for (const p of Object.values(phones)) p.close();
    await running.stop();
    throw error;
  }
  const gateway = app;
  const ng = () => gateway.media.pool.nodes[0]!.client;
  const list = async () => (await ng().list()).calls;
  return {
    running,
    app: gateway,
    config,
    gatewayPort,
    phones,
    list,
    query: (callId) => ng().query({ 'call-id': callId }),
    async assertClean(timeoutMs = 10_000, { rtpengineGone = false } = {}) {
      const sessions = async () => (rtpengineGone ? [] : await list().catch(() => ['<list failed>']));
      const snapshot = async () => ({ dialogs: running.engine.dialogs.size, calls: gateway.calls.size, rtpengine: await sessions() });
      try {
        await until(snapshot, (s) => s.dialogs === 0 && s.calls === 0 && s.rtpengine.length === 0, timeoutMs, 'no dialogs, calls or rtpengine sessions');
      } catch (error) {
        // leave a clean stack for the next test, then fail this one
        await gateway.calls.endAll('test cleanup');
        if (!rtpengineGone) for (const callId of await list().catch(() => [] as string[])) await ng().delete({ 'call-id': callId }).catch(() => undefined);
        throw error;
      }
    },
    async resetPhones() {
      for (const p of Object.values(phones)) await p.reset();
    },
    async stop() {
      for (const p of Object.values(phones)) p.close();
      await gateway.close();
      await running.stop();
    },
  };
}

/** Packets rtpengine received per participant tag (RTP streams only), summed over its media. */
export function packetsByTag(reply: NgQueryReply): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [tag, info] of Object.entries(reply.tags ?? {})) {
    out[tag] = (info.medias ?? []).reduce((sum, media) => sum + (media.streams?.[0]?.stats?.packets ?? 0), 0);
  }
  return out;
}

/**
 * Polls rtpengine's per-tag packet counters of the calls listed while `running()` holds, keeping
 * the highest value seen per call and tag (the counters vanish with the call at BYE).
 */
export function watchPackets(stack: CallStack): { stop(): Promise<Record<string, Record<string, number>>> } {
  const seen: Record<string, Record<string, number>> = {};
  let active = true;
  const loop = (async () => {
    while (active) {
      for (const callId of await stack.list().catch(() => [] as string[])) {
        const reply = await stack.query(callId).catch(() => undefined);
        if (!reply) continue;
        const perCall = (seen[callId] ??= {});
        for (const [tag, packets] of Object.entries(packetsByTag(reply))) perCall[tag] = Math.max(perCall[tag] ?? 0, packets);
      }
      await sleep(200);
    }
  })();
  return {
    async stop() {
      active = false;
      await loop;
      return seen;
    },
  };
}

// ---- SIPp ------------------------------------------------------------------------------------

/** An even UDP port p with p and p+2 free on 127.0.0.1 right now (SIPp's -mp binds both). */
export async function freeMediaPort(): Promise<number> {
  const bindable = (port: number) =>
    new Promise<boolean>((resolve) => {
      const socket = dgram.createSocket('udp4');
      socket.once('error', () => resolve(false));
      socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)));
    });
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 2 * randomInt(16_000, 19_900); // 32000-39800: apart from rtpengine's and RtpPhone's ranges
    if ((await bindable(port)) && (await bindable(port + 2))) return port;
  }
  throw new Error('no free media port pair for SIPp');
}

/** A working directory for SIPp with pcap/ -> /usr/share/sip-tester/*.pcap and the given scenario files. */
export function sippWorkdir(scenarios: Record<string, string> = {}): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'calls-sipp-'));
  mkdirSync(join(dir, 'pcap'));
  for (const file of readdirSync('/usr/share/sip-tester').filter((f) => f.endsWith('.pcap'))) {
    symlinkSync(join('/usr/share/sip-tester', file), join(dir, 'pcap', file));
  }
  for (const [name, text] of Object.entries(scenarios)) writeFileSync(join(dir, name), text);
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
