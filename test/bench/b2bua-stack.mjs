// The systems under test of the B2BUA bench and the rtpengine they share:
//   - rtpengine (one daemon for the whole bench run, started here, flags of recipes §1)
//   - the whole gateway: `node gateway/dist/cli/index.js start` (app + forked engine), configured
//     with two static desk phones (the SIPp uac and uas, trusted by address:port) and rtpengine in
//     remote mode pointing at the shared daemon
//   - Kamailio 5.6 from Debian with test/bench/kamailio/kamailio.cfg, the same rtpengine
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { childPids } from './cpu-sampler.mjs';
import { ngCommand, rtpengineSessions } from './ng.mjs';
import { findExecutable, spawnManaged, waitFor } from './processes.mjs';
import { freePort } from './ports.mjs';
import { ENGINE_CLI, REPO_ROOT } from './stack.mjs';

const PROBE = fileURLToPath(new URL('./probe.cjs', import.meta.url));
export const KAMAILIO_CFG = fileURLToPath(new URL('./kamailio/kamailio.cfg', import.meta.url));

// rtpengine's media ports: outside the bench's SIP/SIPp range (ports.mjs, 21000-59000) and the
// kernel's ephemeral range (32768-60999), so nothing else can take them mid-run.
const MEDIA_PORT_MIN = 61000;
const MEDIA_PORT_MAX = 65000;

/** True once a UDP socket is bound to 127.0.0.1:port or *:port (/proc/net/udp). */
export function udpBound(port) {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readFileSync('/proc/net/udp', 'utf8')
    .split('\n')
    .slice(1)
    .some((line) => {
      const local = line.trim().split(/\s+/)[1] ?? '';
      return local.endsWith(hex) && (local.startsWith('0100007F') || local.startsWith('00000000'));
    });
}

/** True while pid exists and is not a zombie. */
function alive(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

export function rtpengineArgs({ ngPort, cliPort }) {
  return [
    '--config-file=none',
    '--foreground',
    '--log-stderr',
    '--table=-1',
    '--interface=127.0.0.1',
    `--listen-ng=127.0.0.1:${ngPort}`,
    `--listen-cli=127.0.0.1:${cliPort}`,
    `--port-min=${MEDIA_PORT_MIN}`,
    `--port-max=${MEDIA_PORT_MAX}`,
    '--delete-delay=0',
    // 5 = notice: per-call lines (offer/answer/delete received) are info (6); the same for both systems
    '--log-level=5',
  ];
}

/** Starts rtpengine and waits for an ng pong. */
export async function startRtpengine({ logDir }) {
  const binary = findExecutable('rtpengine');
  if (!binary) throw new Error("rtpengine is not installed: run 'npm run setup' (Debian package rtpengine-daemon)");
  const ngPort = await freePort();
  const cliPort = await freePort();
  const args = rtpengineArgs({ ngPort, cliPort });
  const proc = spawnManaged('rtpengine', binary, args, { logFile: join(logDir, 'rtpengine.log') });
  const ng = { host: '127.0.0.1', port: ngPort };
  await waitFor(
    async () => {
      if (!proc.running) throw new Error(`rtpengine exited during startup:\n${proc.tail().slice(-2000)}`);
      return ngCommand(ng, 'ping', {}, { timeoutMs: 200, tries: 1 }).then(
        (r) => r?.result === 'pong',
        () => false,
      );
    },
    { timeoutMs: 10_000, intervalMs: 100, what: `rtpengine ng port ${ngPort}` },
  );
  return {
    proc,
    pid: proc.pid,
    ng,
    cliPort,
    commandLine: `rtpengine ${args.join(' ')}`,
    sessions: () => rtpengineSessions(ng),
    /** Per-command counters (offer/answer/delete...) of rtpengine's control statistics. */
    async commandCounts() {
      try {
        const s = await ngCommand(ng, 'statistics');
        const out = {};
        for (const c of s?.statistics?.controlstatistics?.proxies ?? []) {
          for (const [k, v] of Object.entries(c)) if (typeof v === 'number' && /count$/i.test(k)) out[k] = (out[k] ?? 0) + v;
        }
        return out;
      } catch {
        return undefined;
      }
    },
    stop: () => proc.stop(5000),
  };
}

/** The gateway's configuration for the bench: two static desk phones, remote rtpengine. */
export function gatewayConfig({ sipPort, uacPort, uasPort, ng }) {
  return {
    phones: [
      // the SIPp uac: trusted by source address and port (Router.phoneAt), no digest
      { username: 'caller', uri: `sip:caller@127.0.0.1:${uacPort}` },
      // the SIPp uas: INVITEs to sip:callee@... go here
      { username: 'callee', uri: `sip:callee@127.0.0.1:${uasPort}` },
    ],
    rtpengine: { mode: 'remote', remote: [{ host: ng.host, port: ng.port }] },
    http: { host: '127.0.0.1', port: 0 },
    sip: { contacts: [`sip:127.0.0.1:${sipPort};transport=udp`] },
  };
}

/**
 * Starts `gateway start` (app in this process, engine forked by it) and waits for its ready line.
 * Logs at warn (the app) and warn (the engine, --loglevel): info logs several lines per call.
 */
export async function startGateway({ cli: cliOverride, logDir, profileDir, sipPort, uacPort, uasPort, ng, logLevel = 'warn' }) {
  // `cli` (--gateway-rev) or BENCH_GATEWAY_CLI: another build of the gateway's cli/index.js, e.g.
  // for A/B experiments (a copy of gateway/dist inside the repository, so that node_modules resolves)
  const cli = cliOverride ?? process.env.BENCH_GATEWAY_CLI ?? ENGINE_CLI;
  if (!existsSync(cli)) throw new Error(`${cli} is missing: build first (npm run build, or npm run bench which builds)`);
  const configFile = join(logDir, 'gateway.json');
  writeFileSync(configFile, `${JSON.stringify(gatewayConfig({ sipPort, uacPort, uasPort, ng }), null, 2)}\n`);
  const adminPort = await freePort();
  const nodeArgs = ['--require', PROBE];
  if (profileDir) {
    mkdirSync(profileDir, { recursive: true });
    // inherited by the forked engine (child_process.fork passes execArgv): one file per pid
    nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${profileDir}`);
  }
  const args = [...nodeArgs, cli, 'start', '--loglevel', logLevel];
  const env = {
    ...process.env,
    GATEWAY_CONFIG: configFile,
    GATEWAY_ENGINE_ADMIN_PORT: String(adminPort),
    GATEWAY_LOG_LEVEL: logLevel,
    BENCH_PROBE_FILE: join(logDir, 'gateway-{pid}.probe.jsonl'),
  };
  const proc = spawnManaged('gateway', process.execPath, args, { cwd: REPO_ROOT, env, logFile: join(logDir, 'gateway.log') });
  const ready = await waitFor(
    () => {
      if (!proc.running) throw new Error(`gateway exited during startup:\n${proc.tail().slice(-2000)}`);
      return /Softphone: (http:\/\/[^\s]+)/.exec(proc.tail())?.[1];
    },
    { timeoutMs: 20_000, intervalMs: 100, what: 'the gateway to print its ready line' },
  );
  const enginePid = await waitFor(() => childPids(proc.pid)[0], { timeoutMs: 5000, intervalMs: 50, what: 'the gateway engine process' });
  await waitFor(() => udpBound(sipPort), { timeoutMs: 5000, intervalMs: 50, what: `gateway SIP port ${sipPort}` });
  const statusUrl = new URL('api/status', ready).toString();
  return {
    kind: 'gateway',
    proc,
    sipPort,
    processes: [
      { name: 'engine', pid: enginePid, probeFile: join(logDir, `gateway-${enginePid}.probe.jsonl`) },
      { name: 'app', pid: proc.pid, probeFile: join(logDir, `gateway-${proc.pid}.probe.jsonl`) },
    ],
    configFile,
    commandLine: `GATEWAY_CONFIG=${configFile.replace(REPO_ROOT, '')} node ${args.slice(nodeArgs.length).join(' ').replaceAll(REPO_ROOT, '')}`,
    /** Calls the app still holds and rtpengine calls it still counts, or undefined. */
    async active() {
      try {
        const s = await (await fetch(statusUrl, { signal: AbortSignal.timeout(2000) })).json();
        return (s.calls ?? 0) + (s.rtpengine?.activeCalls ?? 0);
      } catch {
        return undefined;
      }
    },
    async status() {
      try {
        return await (await fetch(statusUrl, { signal: AbortSignal.timeout(2000) })).json();
      } catch {
        return undefined;
      }
    },
    // SIGTERM to the app only: it closes (ends calls, deletes their rtpengine sessions) and sends
    // the engine its SIGTERM; both flush --cpu-prof on the way out. (A SIGTERM to the whole group
    // would reach the engine twice, and its once-only handler lets the second one kill it before it
    // writes its profile.) proc.stop() then cleans up whatever is left of the group.
    async stop() {
      try {
        process.kill(proc.pid, 'SIGTERM');
      } catch {
        // already gone
      }
      await waitFor(() => !proc.running && !alive(enginePid), { timeoutMs: 10_000, intervalMs: 100, what: 'the gateway to exit' }).catch(() => {});
      await proc.stop(2000);
    },
  };
}

export function kamailioPath() {
  return findExecutable('kamailio');
}

// Shared memory for Kamailio, MB. Recipes §7 runs it with -m 64, which is enough for a functional
// test but not for this load: at 400 calls/s tm ran out of shared memory ("new_t(): out of mem",
// "build_cell(): could not allocate shared memory from shm pool", 124 calls answered 500), as each
// finished transaction stays 5 s on tm's wait timer with its request and reply buffers.
export const KAMAILIO_SHM_MB = 512;

/** `kamailio -DD -E -f kamailio.cfg -m 512 -M 8` (recipes §7, more shared memory) with the bench's ports as -A defines. */
export async function startKamailio({ logDir, sipPort, uasPort, ng, workers = 8 }) {
  const binary = kamailioPath();
  if (!binary) throw new Error('kamailio is not installed');
  const defines = [
    `SIP_PORT=${sipPort}`,
    `CALLEE_URI="sip:127.0.0.1:${uasPort}"`,
    `RTPENGINE_SOCK="udp:${ng.host}:${ng.port}"`,
    `WORKERS=${workers}`,
  ];
  const args = ['-DD', '-E', '-f', KAMAILIO_CFG, '-m', String(KAMAILIO_SHM_MB), '-M', '8', ...defines.flatMap((d) => ['-A', d])];
  const proc = spawnManaged('kamailio', binary, args, { cwd: logDir, logFile: join(logDir, 'kamailio.log') });
  await waitFor(
    async () => {
      if (!proc.running) throw new Error(`kamailio exited during startup:\n${proc.tail().slice(-2000)}`);
      return udpBound(sipPort);
    },
    { timeoutMs: 10_000, intervalMs: 50, what: `kamailio SIP port ${sipPort}` },
  );
  // the workers are forked after the socket is bound: wait until they are all there
  await waitFor(() => childPids(proc.pid).length >= workers, { timeoutMs: 5000, intervalMs: 50, what: 'kamailio workers' });
  return {
    kind: 'kamailio',
    proc,
    sipPort,
    processes: [{ name: 'kamailio', pid: proc.pid, tree: true }],
    commandLine: `kamailio ${args.map((a) => (/[\s"]/.test(a) ? `'${a}'` : a)).join(' ').replace(REPO_ROOT, '')}`,
    active: async () => 0, // a proxy keeps no call state to drain; rtpengine's sessions are checked
    status: async () => undefined,
    stop: () => proc.stop(5000),
  };
}
