/**
 * Synchronous cleanup callbacks that run however this process ends: normal exit, an uncaught
 * exception, or SIGINT/SIGTERM/SIGHUP. Harness parts that create things outside the process
 * (network namespaces, child processes, /etc/netns files) register here so a crashed or
 * interrupted test run does not leave them behind. (SIGKILL cannot be caught; netns.ts also
 * sweeps namespaces whose creating process is gone.)
 */
type Cleanup = () => void;

const cleanups = new Set<Cleanup>();
let hooksInstalled = false;

function runAllCleanups(): void {
  for (const cleanup of [...cleanups].reverse()) {
    cleanups.delete(cleanup);
    try {
      cleanup();
    } catch (error) {
      process.stderr.write(`exit-cleanup: ${String(error)}\n`);
    }
  }
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', runAllCleanups);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      runAllCleanups();
      // re-raise with the default disposition so the exit status still says "killed by signal"
      process.kill(process.pid, signal);
    });
  }
}

/** Registers a synchronous cleanup; returns a function that unregisters it (call after a normal teardown). */
export function registerExitCleanup(cleanup: Cleanup): () => void {
  installHooks();
  cleanups.add(cleanup);
  return () => {
    cleanups.delete(cleanup);
  };
}
