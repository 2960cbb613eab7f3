// Child processes of the bench. Every child runs in its own process group (detached) so the
// whole group (e.g. `timeout` + sipp) can be signalled at once. Groups are killed on normal exit,
// on SIGINT/SIGTERM/SIGHUP and on uncaught errors; a small watchdog process kills them too if
// the bench itself dies without running any handler (SIGKILL, OOM).
import { spawn } from 'node:child_process';
import { accessSync, constants, createWriteStream } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const live = new Map(); // pgid -> { name, child }
let watchdog;
let handlersInstalled = false;
let shuttingDown = false;

/** Absolute path of an executable on PATH (plus sbin dirs), or undefined. */
export function findExecutable(name) {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/bin', '/usr/bin', '/usr/local/sbin', '/usr/sbin'];
  for (const dir of dirs.filter(Boolean)) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

function killGroup(pgid, signal) {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

/** SIGKILLs every live group at once; safe to call from an 'exit' handler (synchronous). */
export function killAllNow() {
  for (const pgid of live.keys()) killGroup(pgid, 'SIGKILL');
  live.clear();
}

function startWatchdog() {
  if (watchdog) return;
  const script = fileURLToPath(new URL('./watchdog.mjs', import.meta.url));
  watchdog = spawn(process.execPath, [script], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
  watchdog.unref();
  watchdog.stdin.on('error', () => {});
}

function tellWatchdog(line) {
  if (watchdog?.stdin.writable) watchdog.stdin.write(`${line}\n`);
}

/** Tells the watchdog we are done and waits (at most 2 s) for it to exit, so it is reaped here. */
export async function stopWatchdog() {
  const w = watchdog;
  if (!w || w.exitCode !== null || w.signalCode !== null) return;
  const exited = new Promise((resolve) => w.once('exit', resolve));
  tellWatchdog('quit');
  w.stdin.end();
  await Promise.race([exited, sleep(2000)]);
}

/** Installs exit/signal handlers once. */
export function installCleanupHandlers() {
  if (handlersInstalled) return;
  handlersInstalled = true;
  startWatchdog();
  process.on('exit', () => {
    killAllNow();
    tellWatchdog('quit');
  });
  const onSignal = (signal) => {
    shuttingDown = true;
    process.stderr.write(`\nbench: ${signal}, stopping children...\n`);
    for (const pgid of live.keys()) killGroup(pgid, 'SIGTERM');
    setTimeout(() => {
      killAllNow();
      void stopWatchdog().finally(() => process.exit(130));
    }, 1500).unref();
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => onSignal(signal));
  process.on('uncaughtException', (err) => {
    process.stderr.write(`bench: uncaught ${err?.stack ?? err}\n`);
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    process.stderr.write(`bench: unhandled rejection ${err?.stack ?? err}\n`);
    process.exit(1);
  });
}

/**
 * Spawns `command args` in a new process group and tracks it. Output goes to `logFile` (all of
 * it) and the last ~64 KiB are kept in `proc.tail()`. `ipc: true` adds an IPC channel.
 */
export function spawnManaged(name, command, args, { cwd, env, logFile, ipc = false } = {}) {
  installCleanupHandlers();
  if (shuttingDown) throw new Error(`not starting ${name}: the bench is shutting down`);
  const stdio = ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'];
  const child = spawn(command, args, { cwd, env: env ?? process.env, stdio, detached: true });
  let tail = '';
  const log = logFile ? createWriteStream(logFile, { flags: 'a' }) : undefined;
  const onData = (chunk) => {
    log?.write(chunk);
    tail = (tail + chunk.toString()).slice(-65536);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise((resolve) => {
    child.once('error', (err) => {
      tail += `\n[spawn error: ${err.message}]`;
      resolve({ code: null, signal: null, error: err });
    });
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  if (child.pid) {
    live.set(child.pid, { name, child });
    tellWatchdog(`add ${child.pid}`);
  }
  void exited.then(() => {
    log?.end();
    if (child.pid) {
      live.delete(child.pid);
      tellWatchdog(`del ${child.pid}`);
    }
  });
  return {
    name,
    child,
    pid: child.pid,
    exited,
    tail: () => tail,
    get running() {
      return child.exitCode === null && child.signalCode === null;
    },
    /** SIGTERM to the group, SIGKILL after graceMs; resolves when the child has exited. */
    async stop(graceMs = 3000) {
      if (child.exitCode === null && child.signalCode === null && child.pid) {
        killGroup(child.pid, 'SIGTERM');
        const timer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      if (child.pid) killGroup(child.pid, 'SIGKILL'); // leftovers in the group
      return exited;
    },
  };
}

/** Stops every tracked child (SIGTERM, then SIGKILL). */
export async function stopAll(graceMs = 3000) {
  await Promise.all([...live.values()].map(({ child }) => {
    killGroup(child.pid, 'SIGTERM');
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        killGroup(child.pid, 'SIGKILL');
        resolve();
      }, graceMs);
      child.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      if (child.exitCode !== null || child.signalCode !== null) {
        clearTimeout(timer);
        resolve();
      }
    });
  }));
  killAllNow();
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check()` every `intervalMs` until it returns truthy or `timeoutMs` passes. */
export async function waitFor(check, { timeoutMs = 10_000, intervalMs = 100, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < Math.ceil(timeoutMs / intervalMs) + 1; i++) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) break;
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
