/**
 * The local rtpengine daemon's lifecycle: clear errors (missing binary, busy ng port, bad extra
 * argument), stop(), and no orphan when the gateway process exits or is SIGKILLed.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { RtpengineNotFoundError, RtpengineProcess, rtpengineArguments } from '../../gateway/src/services/rtpengine-process';
import { freeUdpPort, rtpengineMissing, startTestRtpengine } from './rtpengine-fixture';
import { startMediaServers } from '../../gateway/src/services/media-servers';
import { RtpengineSchema } from '../../gateway/src/config/schema';
import { NetworkNamespace, netnsUnavailableReason } from '../harness/netns.js';
import { sleep } from './rtp-phone';

const compiledModule = fileURLToPath(new URL('../../gateway/dist/services/rtpengine-process.js', import.meta.url));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitUntilGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!alive(pid)) return true;
    await sleep(50);
  }
  return !alive(pid);
}

/** Starts rtpengine from a separate Node process, prints its pid, then ends the way `ending` says. */
function runOwner(ngPort: number, ending: 'exit' | 'hang'): Promise<{ ownerPid: number; rtpenginePid: number }> {
  const script = `
    const { RtpengineProcess } = require(${JSON.stringify(compiledModule)});
    const daemon = new RtpengineProcess({ interface: '127.0.0.1', ngHost: '127.0.0.1', ngPort: ${ngPort},
      portMin: ${2 * (16_000 + (ngPort % 10_000))}, portMax: ${2 * (16_000 + (ngPort % 10_000)) + 99} });
    daemon.start().then(() => {
      process.stdout.write('PID ' + daemon.pid + '\\n');
      if (${JSON.stringify(ending)} === 'exit') setTimeout(() => process.exit(0), 100);
    }, (error) => { console.error(error.message); process.exit(2); });
    setInterval(() => {}, 1000);`;
  return new Promise((resolve, reject) => {
    const owner = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GATEWAY_LOG_LEVEL: 'silent' } });
    let out = '';
    let err = '';
    owner.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /PID (\d+)/.exec(out);
      if (match) resolve({ ownerPid: owner.pid!, rtpenginePid: Number(match[1]) });
    });
    owner.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    owner.once('exit', (code) => {
      if (!/PID/.test(out)) reject(new Error(`owner exited ${code}: ${err}`));
    });
  });
}

describe('rtpengine process', () => {
  it('builds the proven command line', () => {
    expect(
      rtpengineArguments({
        interface: '127.0.0.1',
        ngHost: '127.0.0.1',
        ngPort: 22222,
        portMin: 30000,
        portMax: 30999,
        dtmfLogDest: { host: '127.0.0.1', port: 22223 },
        extraArgs: ['--dtls-passive'],
      }),
    ).toEqual([
      '--config-file=none',
      '--foreground',
      '--log-stderr',
      '--table=-1',
      '--interface=127.0.0.1',
      '--listen-ng=127.0.0.1:22222',
      '--port-min=30000',
      '--port-max=30999',
      '--delete-delay=0',
      '--log-level=6',
      '--dtmf-log-dest=127.0.0.1:22223',
      '--dtls-passive',
    ]);
  });

  it('says how to fix a missing binary', async () => {
    const daemon = new RtpengineProcess({ binary: 'rtpengine-that-does-not-exist', interface: '127.0.0.1', ngHost: '127.0.0.1', ngPort: 1, portMin: 1, portMax: 2 });
    const error = await daemon.start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RtpengineNotFoundError);
    expect((error as Error).message).toMatch(/^rtpengine not found: run npm run setup/);
  });

  it.skipIf(rtpengineMissing)('refuses a busy ng port and reports a bad extra argument', async () => {
    const running = await startTestRtpengine();
    try {
      const clash = new RtpengineProcess({ interface: '127.0.0.1', ngHost: '127.0.0.1', ngPort: running.endpoint.port, portMin: 40000, portMax: 40099 });
      await expect(clash.start()).rejects.toThrow(/ng port 127\.0\.0\.1:\d+ is not available: EADDRINUSE/);
    } finally {
      await running.stop();
    }
    const bad = new RtpengineProcess({ interface: '127.0.0.1', ngHost: '127.0.0.1', ngPort: await freeUdpPort(), portMin: 40000, portMax: 40099, extraArgs: ['--no-such-option'] });
    await expect(bad.start()).rejects.toThrow(/exited with code 255 .*unknown option/);
    expect(bad.running).toBe(false);
  });

  it.skipIf(rtpengineMissing)('stop() ends the daemon and is safe to repeat', async () => {
    const engine = await startTestRtpengine();
    const pid = engine.process.pid!;
    expect(alive(pid)).toBe(true);
    await engine.stop();
    await engine.stop();
    expect(alive(pid)).toBe(false);
    expect(engine.process.recentOutput()).toMatch(/Startup complete/);
  });

  it.skipIf(rtpengineMissing || !existsSync(compiledModule))('takes the daemon down when the owning process exits or is SIGKILLed', async () => {
    const exiting = await runOwner(await freeUdpPort(), 'exit');
    expect(await waitUntilGone(exiting.rtpenginePid, 3000)).toBe(true);

    const killed = await runOwner(await freeUdpPort(), 'hang');
    expect(alive(killed.rtpenginePid)).toBe(true);
    process.kill(killed.ownerPid, 'SIGKILL'); // no exit hook runs: PR_SET_PDEATHSIG (setpriv) must do it
    expect(await waitUntilGone(killed.rtpenginePid, 3000)).toBe(true);
  });
});

describe.skipIf(rtpengineMissing)('media servers from the rtpengine config', () => {
  it('local mode: starts the daemon with a DTMF listener, a healthy pool, and stops everything', async () => {
    const ngPort = await freeUdpPort();
    const portMin = 2 * (16_000 + (ngPort % 10_000));
    const config = RtpengineSchema.parse({ local: { ngPort, portMin, portMax: portMin + 99 }, healthIntervalMs: 500 });
    const servers = await startMediaServers(config, { dtmfEvents: { host: '127.0.0.1', port: 0 } });
    const pid = servers.localProcess!.pid!;
    try {
      expect(servers.pool.metrics().healthyEngines).toBe(1);
      expect(servers.dtmfEvents!.address.port).toBeGreaterThan(0);
      expect(servers.localProcess!.recentOutput()).toMatch(/Startup complete/);
    } finally {
      await servers.stop();
    }
    expect(alive(pid)).toBe(false);
  });

  it('remote mode needs at least one engine', async () => {
    await expect(startMediaServers(RtpengineSchema.parse({ mode: 'remote' }))).rejects.toThrow(/lists no engine/);
  });
});

const netnsProblem = rtpengineMissing ? 'rtpengine missing' : netnsUnavailableReason();

describe.skipIf(netnsProblem !== undefined)('rtpengine in a network namespace (browser tests)', () => {
  it('starts inside the namespace, is probed from inside it, and stops', async () => {
    const namespace = await NetworkNamespace.create();
    const daemon = new RtpengineProcess({ interface: '127.0.0.1', ngHost: '127.0.0.1', ngPort: 22222, portMin: 30000, portMax: 30099, netns: namespace.name });
    try {
      await daemon.start();
      expect((await namespace.listeningSockets('udp')).has('127.0.0.1:22222')).toBe(true);
      const pid = daemon.pid!;
      await daemon.stop();
      expect(alive(pid)).toBe(false);
    } finally {
      await daemon.stop();
      await namespace.destroy();
    }
  });
});
