// @ts-check
// Stand-in for `docker` while drachtio-srf's own integration tests run in our namespace: their
// test/sipp.js spawns `docker run ... drachtio/sipp sipp ...`; this runs the local sipp instead
// (see docker-invocation.mjs for the translation), passing output and exit status through.
//
// Invoked by the generated `docker` wrapper script as
//   SRF_DOCKER_SHIM_CONFIG=<config.json> node docker-shim.mjs <docker args...>
// config.json (written by suite-runner.ts): { sippPath, workDir, slotDir, logDir, timeoutSec,
//   containerAddresses, uacAddresses, controlPortBase, mediaPortBase }
// Scenarios Debian's SIPp 3.6.1 cannot parse as they are get an adapted copy (scenario-compat.mjs).
// Each run claims the next free slot number (an O_EXCL file in slotDir, so concurrent runs get
// distinct ones), which picks its address and ports, and logs to logDir/<slot>-<kind>-<scenario>.log.
import { spawn } from 'node:child_process';
import { appendFileSync, closeSync, openSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { translateDockerRun, UnsupportedDockerInvocation } from './docker-invocation.mjs';
import { withLocalSippScenario } from './scenario-compat.mjs';

/** Exit status of a sipp run the shim killed at its time limit (as coreutils `timeout`). */
const TIMED_OUT_STATUS = 124;

/**
 * @typedef {object} ShimConfig
 * @property {string} sippPath
 * @property {string} workDir
 * @property {string} slotDir
 * @property {string} logDir
 * @property {number} timeoutSec
 * @property {Record<string, string>} containerAddresses
 * @property {string[]} uacAddresses
 * @property {number} controlPortBase
 * @property {number} mediaPortBase
 */

/** @returns {ShimConfig} */
function readConfig() {
  const path = process.env.SRF_DOCKER_SHIM_CONFIG;
  if (!path) {
    process.stderr.write('docker shim: SRF_DOCKER_SHIM_CONFIG is not set\n');
    process.exit(125);
  }
  return JSON.parse(readFileSync(path, 'utf8'));
}

/**
 * Claims the lowest slot number nobody has claimed yet in this suite run.
 * @param {string} slotDir
 */
function claimSlot(slotDir) {
  for (let slot = 0; ; slot += 1) {
    try {
      closeSync(openSync(join(slotDir, String(slot)), 'wx'));
      return slot;
    } catch (error) {
      if (/** @type {NodeJS.ErrnoException} */ (error).code !== 'EEXIST') throw error;
    }
  }
}

function main() {
  const config = readConfig();
  const dockerArgs = process.argv.slice(2);
  const slot = claimSlot(config.slotDir);
  let invocation;
  try {
    invocation = translateDockerRun(dockerArgs, { ...config, slot });
  } catch (error) {
    if (!(error instanceof UnsupportedDockerInvocation)) throw error;
    process.stderr.write(`docker shim: ${error.message}\n`);
    process.exit(125);
  }

  const sippArgs = withLocalSippScenario(invocation.sippArgs, join(config.workDir, 'scenarios-adapted'));
  const logFile = join(config.logDir, `${String(slot).padStart(3, '0')}-${invocation.kind}-${invocation.scenario}.log`);
  /** @param {string} text */
  const log = (text) => appendFileSync(logFile, text);
  log(`docker ${dockerArgs.join(' ')}\n-> ${config.sippPath} ${sippArgs.join(' ')}\nstarted ${new Date().toISOString()}\n\n`);

  const sipp = spawn(config.sippPath, sippArgs, { cwd: config.workDir, stdio: ['ignore', 'pipe', 'pipe'] });
  sipp.stdout.on('data', (chunk) => {
    process.stdout.write(chunk);
    log(chunk.toString());
  });
  sipp.stderr.on('data', (chunk) => {
    process.stderr.write(chunk);
    log(chunk.toString());
  });

  let timedOut = false;
  const killTimer = setTimeout(() => {
    timedOut = true;
    sipp.kill('SIGTERM');
    setTimeout(() => sipp.kill('SIGKILL'), 5000).unref();
  }, config.timeoutSec * 1000);
  for (const signal of /** @type {const} */ (['SIGTERM', 'SIGINT', 'SIGHUP'])) {
    process.on(signal, () => sipp.kill(signal));
  }

  sipp.on('error', (error) => {
    log(`\ncannot start sipp: ${error.message}\n`);
    process.stderr.write(`docker shim: cannot start ${config.sippPath}: ${error.message}\n`);
    process.exit(127);
  });
  sipp.on('close', (code, signal) => {
    clearTimeout(killTimer);
    // SIPp stopped by SIGTERM exits 0 when no call had failed yet; a timed-out run must not pass
    const status = timedOut ? TIMED_OUT_STATUS : code ?? 128 + (signal ? constants.signals[signal] : 15);
    const killed = timedOut ? `, killed after ${config.timeoutSec}s` : '';
    log(`\nfinished ${new Date().toISOString()}: exit ${status} (sipp code ${code ?? '-'}, signal ${signal ?? '-'}${killed})\n`);
    process.exit(status);
  });
}

main();
