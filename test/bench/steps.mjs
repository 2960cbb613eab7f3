// Stepped-rate runs shared by the INVITE and REGISTER benches: one SIPp run per rate while the
// engine, app and sipp are sampled, a drain between steps, and the stop rule (first step with a
// failed call, a retransmission or a SIPp timeout ends the series).
import { existsSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { Sampler, udpCounters } from './cpu-sampler.mjs';
import { freePort } from './ports.mjs';
import { runSipp } from './sipp-run.mjs';
import { sleep } from './processes.mjs';

const round = (x, digits = 1) => (x === undefined || Number.isNaN(x) ? undefined : Number(x.toFixed(digits)));

/** ResponseTime1(C) "HH:MM:SS:uuuuuu" -> milliseconds. */
function durationMs(text) {
  const m = /^(\d+):(\d+):(\d+):(\d+)$/.exec(text ?? '');
  if (!m) return undefined;
  return ((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1000 + Number(m[4]) / 1000;
}

/**
 * Runs one step: `calls` = rate * stepSeconds through SIPp at `rate`, measuring the stack.
 * `activeOf(stats)` tells how many dialogs/transactions the app still holds (for the drain).
 */
export async function runStep({ rate, stepSeconds, engine, app, scenario, extraArgs = [], holdMs = 0, recvTimeoutMs, workDir, drainMs, activeOf }) {
  const calls = Math.max(1, Math.round(rate * stepSeconds));
  const limit = Math.max(100, Math.ceil(rate * (holdMs / 1000 + 1)));
  const timeoutSec = Math.ceil(stepSeconds * 1.5 + holdMs / 1000 + recvTimeoutMs / 1000 + 10);
  const [localPort, mediaPort, controlPort] = [await freePort(), await freePort({ pairPlus2: true }), await freePort()];
  const appBefore = await app.stats();
  const stepStartedAt = Date.now();
  const udpBefore = udpCounters();
  const sampler = new Sampler(250)
    .track('engine', engine.pid, { resetPeak: true })
    .track('app', app.pid, { resetPeak: true })
    .trackUdpDrops('engine', engine.sipPort)
    .trackUdpDrops('sipp', localPort);
  const sipp = await runSipp({
    scenario,
    target: `127.0.0.1:${engine.sipPort}`,
    localIp: '127.0.0.1',
    localPort,
    mediaPort,
    controlPort,
    calls,
    rate,
    limit,
    recvTimeoutMs,
    timeoutSec,
    workDir,
    extraArgs: holdMs ? ['-d', String(holdMs), ...extraArgs] : extraArgs,
    onStart: (_proc, sippPid) => {
      sampler.track('sipp', sippPid, { fromZero: true });
      sampler.start();
    },
  });
  const usage = sampler.stop();
  const stepEndedAt = Date.now();
  const udpAfter = udpCounters();

  // Drain: the app should end up holding nothing; then give the engine a moment more.
  let leftover;
  for (let i = 0; i < Math.ceil(drainMs / 250) + 40; i++) {
    const s = await app.stats();
    leftover = s ? activeOf(s) : undefined;
    if (leftover === 0 || leftover === undefined) break;
    await sleep(250);
  }
  await sleep(drainMs);
  const appAfter = await app.stats();

  const st = sipp.stats;
  const ct = sipp.counts;
  const successful = st?.successful ?? 0;
  const failed = st ? Math.max(st.failed, calls - successful) : calls; // calls never completed count as failed
  const activeSeconds = st ? Math.max(0.001, st.endEpoch - st.startEpoch - holdMs / 1000) : undefined;
  const retransmissions = Math.max(st?.retransmissions ?? 0, (ct?.retransSent ?? 0) + (ct?.retransRecv ?? 0));
  const result = {
    offeredRate: rate,
    calls,
    achievedRate: activeSeconds ? round(successful / activeSeconds) : 0,
    successful,
    failed,
    retransmissions,
    retransSent: ct?.retransSent,
    retransRecv: ct?.retransRecv,
    sippRetransCounter: st?.retransmissions,
    timeouts: ct?.timeouts,
    unexpected: ct?.unexpected,
    udpRcvbufDrops: udpBefore && udpAfter ? udpAfter.rcvbufErrors - udpBefore.rcvbufErrors : undefined,
    engineSocketDrops: usage.udpDrops.engine,
    sippSocketDrops: usage.udpDrops.sipp, // sampled every 250 ms while SIPp runs
    avgResponseMs: round(durationMs(st?.responseTime1), 2),
    engineCpuPercent: round(usage.engine.cpuPercent),
    appCpuPercent: round(usage.app.cpuPercent),
    sippCpuPercent: round(usage.sipp?.cpuPercent),
    // Share of the step during which some runnable task waited for a CPU (PSI): contention,
    // from our three processes and from anything else running on the machine.
    cpuPressurePercent: round(usage.cpuPressurePercent),
    enginePeakRssMiB: round(usage.engine.peakRssMiB),
    appPeakRssMiB: round(usage.app.peakRssMiB),
    engineProbe: probeWindow(engine.probeFile, stepStartedAt, stepEndedAt),
    appProbe: probeWindow(app.probeFile, stepStartedAt, stepEndedAt),
    peakRssIsPerStep: Boolean(usage.engine.peakIsStepLocal && usage.app.peakIsStepLocal),
    sippExit: sipp.exitCode,
    sippTimedOut: sipp.timedOut,
    leftoverAfterDrain: leftover,
    appCountersDelta: appBefore && appAfter ? diff(appAfter, appBefore) : undefined,
    workDir,
  };
  // Runnable tasks waited for a CPU much of the time although our three processes did not fill
  // the cores: something else on the machine took the CPU, so this step says little about the engine.
  const ours = (result.engineCpuPercent ?? 0) + (result.appCpuPercent ?? 0) + (result.sippCpuPercent ?? 0);
  result.contended = (result.cpuPressurePercent ?? 0) > 40 && ours < 50 * cpus().length;
  if (!st) result.problem = `no SIPp statistics (exit ${sipp.exitCode}); output:\n${sipp.outputTail}`;
  else if (failed > 0 && sipp.errorsHead) result.problem = `first SIPp errors:\n${sipp.errorsHead}`;
  result.sippCommand = sipp.commandLine;
  return result;
}

/** Aggregates the probe.cjs lines written between t0 and t1 (ms epoch; one line per second). */
export function probeWindow(file, t0, t1) {
  if (!file || !existsSync(file)) return undefined;
  const lines = readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      try {
        return JSON.parse(l);
      } catch {
        return undefined;
      }
    })
    .filter((l) => l && l.t > t0 && l.t <= t1 + 1000);
  if (!lines.length) return undefined;
  const max = (k) => Math.max(...lines.map((l) => l[k] ?? 0));
  const sum = (k) => lines.reduce((a, l) => a + (l[k] ?? 0), 0);
  return {
    seconds: lines.length,
    loopP99MsWorstSecond: max('loopP99Ms'),
    loopMaxMs: max('loopMaxMs'),
    gcMs: round(sum('gcMs'), 1),
    gcMaxMs: max('gcMaxMs'),
    heapUsedMiBMax: max('heapUsedMiB'),
    arrayBuffersMiBMax: max('arrayBuffersMiB'),
  };
}

function diff(after, before) {
  const out = {};
  for (const [k, v] of Object.entries(after)) if (typeof v === 'number') out[k] = v - (before[k] ?? 0);
  return out;
}

/**
 * The share of the offered rate a step must achieve to count: below it the system under test
 * did not keep up (calls queued, SIPp's call limit throttled it), even if every call ended well.
 */
export const KEPT_UP = 0.95;

/** Every call succeeded, nothing was retransmitted, and the system kept up with the offered rate. */
export const stepKeptUp = (s) => s.achievedRate >= KEPT_UP * s.offeredRate;
export const stepClean = (s) => s.failed === 0 && s.retransmissions === 0 && s.successful === s.calls && !s.sippTimedOut && stepKeptUp(s);

/**
 * Runs the steps in order, stopping after the first unclean step or when `deadline` (ms epoch)
 * would be passed by the next step (step time + `overheadSeconds`). `describe(step)` replaces the
 * default progress line. Returns { steps, best, stoppedBecause }.
 */
export async function runSeries({ label, rates, stepSeconds, deadline, log, step, describe, overheadSeconds = 6 }) {
  const steps = [];
  let stoppedBecause = 'all steps passed';
  for (const [i, rate] of rates.entries()) {
    const projected = Date.now() + (stepSeconds + overheadSeconds) * 1000;
    if (projected > deadline) {
      stoppedBecause = `time budget reached before ${rate}/s`;
      break;
    }
    log(`${label}: step ${i + 1}/${rates.length} at ${rate}/s (${Math.round(rate * stepSeconds)} calls)...`);
    const s = await step(rate, join(`step-${String(i + 1).padStart(2, '0')}-${rate}`));
    steps.push(s);
    if (describe) log(`${label}:   ${describe(s)}`);
    else log(
      `${label}:   achieved ${s.achievedRate}/s, ok ${s.successful}, failed ${s.failed}, retrans ${s.retransmissions}, udp drops ${s.udpRcvbufDrops} (engine socket ${s.engineSocketDrops}, sipp socket ${s.sippSocketDrops}), ` +
        `engine ${s.engineCpuPercent}% CPU ${s.enginePeakRssMiB} MiB, app ${s.appCpuPercent}% CPU ${s.appPeakRssMiB} MiB, sipp ${s.sippCpuPercent}%, ` +
        `CPU pressure ${s.cpuPressurePercent}%, loop delay max engine ${s.engineProbe?.loopMaxMs} ms / app ${s.appProbe?.loopMaxMs} ms`,
    );
    if (s.problem) log(`${label}:   ${s.problem.split('\n').slice(0, 8).join('\n    ')}`);
    if (!stepClean(s)) {
      const failedOrResent = s.failed !== 0 || s.retransmissions !== 0 || s.successful !== s.calls || s.sippTimedOut;
      stoppedBecause = failedOrResent ? `failures/retransmissions at ${rate}/s` : `fell behind at ${rate}/s (achieved ${s.achievedRate}/s)`;
      break;
    }
  }
  const clean = steps.filter(stepClean);
  const best = clean.length ? clean.reduce((a, b) => (b.offeredRate > a.offeredRate ? b : a)) : undefined;
  return { steps, best, stoppedBecause };
}
