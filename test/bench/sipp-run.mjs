// One SIPp run to completion: builds the command line (always -sn/-sf, -m, -p/-cp/-mp, -nostdin,
// wrapped in `timeout`), runs it in its own work directory, and parses the -trace_stat CSV,
// the -trace_counts CSV (per-message retransmissions/timeouts/unexpected) and the final screen.
import { accessSync, constants, existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { findExecutable, spawnManaged } from './processes.mjs';
import { childPids } from './cpu-sampler.mjs';

export class SippMissingError extends Error {}

/** Path of sipp, or throws SippMissingError with the fix. */
export function requireSipp() {
  const override = process.env.SIPP; // e.g. SIPP=/opt/sipp/bin/sipp
  let sipp;
  if (!override) sipp = findExecutable('sipp');
  else if (override.includes('/')) sipp = isExecutable(override) ? override : undefined;
  else sipp = findExecutable(override);
  if (!sipp) {
    throw new SippMissingError(
      `sipp (SIPp 3.6) ${override ? `at SIPP=${override} ` : ''}is not installed or not on PATH.\n` +
        "  Fix: run 'npm run setup' (installs the Debian package sip-tester when run as root), then 'npm run bench' again.",
    );
  }
  if (!findExecutable('timeout')) throw new SippMissingError('coreutils `timeout` is missing from PATH');
  return sipp;
}

function isExecutable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Splits a `;`-separated SIPp CSV into rows of cells. */
function csvRows(text) {
  return text
    .split('\n')
    .map((l) => l.replace(/\r$/, ''))
    .filter((l) => l.trim())
    .map((l) => l.split(';'));
}

/** Seconds since the epoch from a SIPp time cell "YYYY-MM-DD\tHH:MM:SS.us\tEPOCH.us". */
function epochOf(cell) {
  const parts = (cell ?? '').split('\t');
  return Number(parts[parts.length - 1]);
}

/** Last row of a -trace_stat CSV, by column name, plus derived numbers. */
export function parseStatCsv(text) {
  const rows = csvRows(text);
  if (rows.length < 2) return undefined;
  const header = rows[0];
  const last = rows[rows.length - 1];
  const col = {};
  header.forEach((name, i) => name && (col[name] = last[i]));
  const n = (name) => Number(col[name] ?? NaN);
  return {
    successful: n('SuccessfulCall(C)'),
    failed: n('FailedCall(C)'),
    created: n('TotalCallCreated'),
    retransmissions: n('Retransmissions(C)'),
    failedMaxUdpRetrans: n('FailedMaxUDPRetrans(C)'),
    failedTimeoutOnRecv: n('FailedTimeoutOnRecv(C)'),
    failedUnexpected: n('FailedUnexpectedMessage(C)'),
    deadCallMsgs: n('DeadCallMsgs(C)'),
    outOfCallMsgs: n('OutOfCallMsgs(C)'),
    callRateC: n('CallRate(C)'),
    responseTime1: col['ResponseTime1(C)'],
    startEpoch: epochOf(col.StartTime),
    endEpoch: epochOf(col.CurrentTime),
    columns: col,
  };
}

/** Sums of the per-message counters of a -trace_counts CSV (last row). */
export function parseCountsCsv(text) {
  const rows = csvRows(text);
  if (rows.length < 2) return undefined;
  const header = rows[0];
  const last = rows[rows.length - 1];
  const sums = { retransSent: 0, retransRecv: 0, timeouts: 0, unexpected: 0, perMessage: {} };
  header.forEach((name, i) => {
    const m = /^(\d+)_(.+)_(Sent|Recv|Retrans|Timeout|Unexp)$/.exec(name);
    if (!m) return;
    const value = Number(last[i] ?? 0) || 0;
    const key = `${m[1]}_${m[2]}`;
    (sums.perMessage[key] ??= {})[m[3]] = value;
    if (m[3] === 'Timeout') sums.timeouts += value;
    if (m[3] === 'Unexp') sums.unexpected += value;
  });
  for (const counts of Object.values(sums.perMessage)) {
    const retrans = counts.Retrans ?? 0;
    if ('Sent' in counts) sums.retransSent += retrans; // we had to resend (peer slow)
    else sums.retransRecv += retrans; // peer resent to us (our ACK/answer was late)
  }
  return sums;
}

/**
 * Runs SIPp once and resolves with parsed results; never rejects for SIPp failures.
 * opts: scenario ({builtin} | {file}), target (omitted for a uas), localIp, localPort, mediaPort,
 * controlPort, calls, rate, limit, recvTimeoutMs, timeoutSec, workDir, extraArgs,
 * onStart(proc, sippPid()).
 */
export async function runSipp(opts) {
  return startSipp(opts).done;
}

/**
 * Starts SIPp and returns at once: { proc, sippPid(), done } where `done` resolves like runSipp.
 * For a uas that must be listening before the uac starts.
 */
export function startSipp(opts) {
  const sipp = requireSipp();
  mkdirSync(opts.workDir, { recursive: true });
  const statFile = join(opts.workDir, 'stat.csv');
  const screenFile = join(opts.workDir, 'screen.txt');
  const errorFile = join(opts.workDir, 'errors.log');
  const args = [
    ...('file' in opts.scenario ? ['-sf', opts.scenario.file] : ['-sn', opts.scenario.builtin]),
    '-i', opts.localIp,
    '-p', String(opts.localPort),
    '-mp', String(opts.mediaPort),
    '-cp', String(opts.controlPort),
    '-t', 'u1',
    '-m', String(opts.calls),
    ...(opts.rate !== undefined ? ['-r', String(opts.rate), '-rp', '1000'] : []),
    ...(opts.limit !== undefined ? ['-l', String(opts.limit)] : []),
    '-recv_timeout', String(opts.recvTimeoutMs),
    // SIPp's socket buffers default to 64 KiB; at >1000 calls/s a short SIPp stall then drops
    // responses on SIPp's own socket and SIPp retransmits. 4 MiB (net.core.rmem_max here) keeps
    // the load generator from being what is measured.
    '-buff_size', String(opts.buffSize ?? 4 * 1024 * 1024),
    '-nostdin',
    '-trace_stat', '-stf', statFile, '-fd', '1',
    '-trace_counts',
    '-trace_screen', '-screen_file', screenFile,
    '-trace_err', '-error_file', errorFile,
    ...(opts.extraArgs ?? []),
    ...(opts.target ? [opts.target] : []),
  ];
  const command = ['--kill-after=5', `${opts.timeoutSec}s`, sipp, ...args];
  const started = performance.now();
  const proc = spawnManaged(opts.name ?? 'sipp', 'timeout', command, { cwd: opts.workDir, logFile: join(opts.workDir, 'sipp.out') });
  const sippPid = () => (proc.running ? childPids(proc.pid)[0] : undefined);
  opts.onStart?.(proc, sippPid);
  const done = proc.exited.then((exit) => {
    const wallSeconds = (performance.now() - started) / 1000;
    const read = (f) => (existsSync(f) ? readFileSync(f, 'utf8') : '');
    const countsFile = readdirSync(opts.workDir).find((f) => f.endsWith('_counts.csv'));
    const errors = read(errorFile);
    return {
      commandLine: `timeout ${command.join(' ')}`,
      exitCode: exit.code,
      signal: exit.signal,
      timedOut: exit.code === 124 || exit.code === 137,
      wallSeconds,
      stats: parseStatCsv(read(statFile)),
      counts: countsFile ? parseCountsCsv(read(join(opts.workDir, countsFile))) : undefined,
      screen: read(screenFile),
      errorsHead: errors.split('\n').slice(0, 20).join('\n'),
      outputTail: proc.tail().slice(-4000),
    };
  });
  return { proc, sippPid, done };
}
