// The system under test: the engine (its own process) plus one srf app (its own process,
// talking to the bench over IPC for readiness and counters).
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep, spawnManaged, waitFor } from './processes.mjs';
import { freePort, tcpReachable } from './ports.mjs';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const ENGINE_CLI = join(REPO_ROOT, 'gateway/dist/cli/index.js');
const PROBE = fileURLToPath(new URL('./probe.cjs', import.meta.url));
const SECRET = 'cymru';

/**
 * Starts the engine on a free UDP SIP port and a free control port (both 127.0.0.1) and waits
 * until the control port accepts connections. `profileDir` adds node --cpu-prof; `cli` is another
 * build's cli/index.js (--gateway-rev).
 */
export async function startEngine({ cli = ENGINE_CLI, logDir, profileDir, loglevel = 'error' }) {
  if (!existsSync(cli)) {
    throw new Error(`${cli} is missing: build first (npm run build, or npm run bench which builds)`);
  }
  const sipPort = await freePort();
  const controlPort = await freePort();
  const contact = `sip:127.0.0.1:${sipPort};transport=udp`;
  const probeFile = join(logDir, 'engine.probe.jsonl');
  const nodeArgs = ['--require', PROBE];
  if (profileDir) {
    mkdirSync(profileDir, { recursive: true });
    nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${profileDir}`, '--cpu-prof-name=engine.cpuprofile');
  }
  const args = [
    ...nodeArgs,
    cli,
    'engine',
    '--contact', contact,
    '--address', '127.0.0.1',
    '--port', String(controlPort),
    '--secret', SECRET,
    '--loglevel', loglevel,
  ];
  const env = { ...process.env, BENCH_PROBE_FILE: probeFile };
  const proc = spawnManaged('engine', process.execPath, args, { cwd: REPO_ROOT, env, logFile: join(logDir, 'engine.log') });
  await waitFor(
    async () => {
      if (!proc.running) throw new Error(`engine exited during startup:\n${proc.tail().slice(-2000)}`);
      return tcpReachable('127.0.0.1', controlPort);
    },
    { timeoutMs: 15_000, intervalMs: 100, what: `engine control port ${controlPort}` },
  );
  return {
    proc,
    pid: proc.pid,
    probeFile,
    sipPort,
    controlPort,
    commandLine: `node ${args.slice(2).map((a) => (a.includes(' ') || a.includes(';') ? `"${a}"` : a)).join(' ')}`.replace(REPO_ROOT, ''),
  };
}

/** Starts test/bench/apps/<script> against the engine and waits for its `ready` message. */
export async function startApp(script, engine, { logDir, profileDir }) {
  const file = fileURLToPath(new URL(`./apps/${script}`, import.meta.url));
  const probeFile = join(logDir, `${script.replace(/\.mjs$/, '')}.probe.jsonl`);
  const nodeArgs = ['--require', PROBE];
  if (profileDir) nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${script.replace(/\.mjs$/, '')}.cpuprofile`);
  const proc = spawnManaged(
    script,
    process.execPath,
    [...nodeArgs, file, '--host', '127.0.0.1', '--port', String(engine.controlPort), '--secret', SECRET],
    { cwd: REPO_ROOT, env: { ...process.env, BENCH_PROBE_FILE: probeFile }, logFile: join(logDir, `${script}.log`), ipc: true },
  );
  let ready = false;
  let failure;
  const waiting = new Map();
  let nextId = 1;
  proc.child.on('message', (msg) => {
    if (msg?.type === 'ready') ready = true;
    else if (msg?.type === 'error') failure = msg.message;
    else if (msg?.type === 'stats') {
      waiting.get(msg.id)?.(msg.stats);
      waiting.delete(msg.id);
    }
  });
  await waitFor(
    () => {
      if (!proc.running) throw new Error(`${script} exited during startup:\n${proc.tail().slice(-2000)}`);
      if (failure && !ready) throw new Error(`${script} could not connect: ${failure}`);
      return ready;
    },
    { timeoutMs: 15_000, intervalMs: 50, what: `${script} to connect to the engine` },
  );
  return {
    proc,
    pid: proc.pid,
    probeFile,
    /** The app's counters, or undefined when it does not answer within 2 s. */
    stats() {
      if (!proc.running || !proc.child.connected) return Promise.resolve(undefined);
      const id = nextId++;
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          waiting.delete(id);
          resolve(undefined);
        }, 2000);
        waiting.set(id, (s) => {
          clearTimeout(timer);
          resolve(s);
        });
        proc.child.send({ type: 'stats', id });
      });
    },
    /** Asks the app to exit (it flushes its --cpu-prof), then stops the group. */
    async stop() {
      if (proc.running && proc.child.connected) proc.child.send({ type: 'stop' });
      const exited = await Promise.race([proc.exited, sleep(3000).then(() => undefined)]);
      if (!exited) await proc.stop(2000);
    },
  };
}

/** Stops app then engine (SIGTERM: the engine exits cleanly, writing its --cpu-prof). */
export async function stopStack(app, engine) {
  await app?.stop().catch(() => {});
  await engine?.proc.stop(8000).catch(() => {});
}
