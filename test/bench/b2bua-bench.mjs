// Bench 3: B2BUA calls per second with media anchored in rtpengine on every call (offer on the
// INVITE, answer on the 200, delete on the BYE), SIPp uac -> system under test -> SIPp uas over
// UDP on 127.0.0.1, at stepped rates with the same stop rule as the other benches. Systems:
//   gateway  plain RTP A leg  (scenarios/b2bua-uac-plain.xml)
//   gateway  WebRTC-style A leg (scenarios/b2bua-uac-webrtc.xml: the gateway's WebRTC flag set)
//   kamailio plain RTP A leg  (kamailio/kamailio.cfg: tm + rr + rtpengine module, same flags)
//   kamailio WebRTC-style A leg
// all against ONE rtpengine daemon started here. Per step: post-dial delay added by the system
// (capture.mjs), CPU of every process, rtpengine sessions left. See test/bench/README.md.
import { mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kamailioPath, startGateway, startKamailio, startRtpengine, udpBound } from './b2bua-stack.mjs';
import { pddFromCapture, startCapture, tcpdumpPath } from './capture.mjs';
import { Sampler, udpCounters } from './cpu-sampler.mjs';
import { freePort } from './ports.mjs';
import { sleep, waitFor } from './processes.mjs';
import { runSipp, startSipp } from './sipp-run.mjs';
import { probeWindow, runSeries } from './steps.mjs';
import { dropsText } from './report.mjs';

const scenario = (name) => fileURLToPath(new URL(`./scenarios/${name}`, import.meta.url));
const UAS = scenario('b2bua-uas.xml');
const UAC = { plain: scenario('b2bua-uac-plain.xml'), webrtc: scenario('b2bua-uac-webrtc.xml') };
const UAS_TIMEWAIT_MS = 0; // <timewait> at the end of b2bua-uas.xml (none)

// Run in this order. Each required variant gets an equal share of the time still left (so
// Kamailio, which goes further, gets what the gateway variants leave); the optional one runs last
// on whatever remains, and is skipped with a note when that is not enough for two steps.
export const B2BUA_VARIANTS = [
  { id: 'gateway-plain', system: 'gateway', aLeg: 'plain', title: 'gateway, plain RTP A leg' },
  { id: 'gateway-webrtc', system: 'gateway', aLeg: 'webrtc', title: 'gateway, WebRTC-style A leg' },
  { id: 'kamailio-plain', system: 'kamailio', aLeg: 'plain', title: 'Kamailio + rtpengine module, plain RTP A leg' },
  { id: 'kamailio-webrtc', system: 'kamailio', aLeg: 'webrtc', title: 'Kamailio + rtpengine module, WebRTC-style A leg', optional: true },
];

const round = (x, digits = 1) => (x === undefined || x === null || Number.isNaN(x) ? undefined : Number(x.toFixed(digits)));

function diffCounts(after, before) {
  if (!after) return undefined;
  const out = {};
  for (const [k, v] of Object.entries(after)) {
    const d = v - (before?.[k] ?? 0);
    if (d) out[k] = d;
  }
  return out;
}

/**
 * rtpengine's sessions minus those in `baseline` (a Set of call-ids present before): what this
 * variant or step left, not what an earlier one (e.g. Kamailio's failed calls) still holds.
 */
async function newSessions(rtpengine, baseline) {
  const s = await rtpengine.sessions();
  if (s.error) return s;
  const mine = s.all.filter((id) => !baseline?.has(id));
  return { calls: mine.length, callIds: mine.slice(0, 5), others: s.calls - mine.length };
}

/** One step: uas listening, capture running, uac at `rate` for `stepSeconds`, then drain and check. */
async function runB2buaStep({ baseline, rate, stepSeconds, sut, rtpengine, variant, ports, holdMs, recvTimeoutMs, workDir, drainMs, capture, keepPcap }) {
  const calls = Math.max(1, Math.round(rate * stepSeconds));
  const limit = Math.max(100, Math.ceil(rate * (holdMs / 1000 + 1)));
  const timeoutSec = Math.ceil(stepSeconds * 1.5 + holdMs / 1000 + recvTimeoutMs / 1000 + 10);
  const uacDir = join(workDir, 'uac');
  const uasDir = join(workDir, 'uas');
  mkdirSync(uacDir, { recursive: true });
  mkdirSync(uasDir, { recursive: true });
  const pcapFile = join(workDir, 'sip.pcap');
  const commandsBefore = await rtpengine.commandCounts();
  const sessionsBefore = await newSessions(rtpengine, baseline);

  const cap = capture ? await startCapture({ file: pcapFile, ports: { uac: ports.uac, sut: sut.sipPort, uas: ports.uas }, logFile: join(workDir, 'tcpdump.log') }) : undefined;
  const uas = startSipp({
    name: 'sipp-uas',
    scenario: { file: UAS },
    localIp: '127.0.0.1',
    localPort: ports.uas,
    mediaPort: await freePort({ pairPlus2: true }),
    controlPort: await freePort(),
    calls,
    recvTimeoutMs,
    timeoutSec: timeoutSec + 5,
    workDir: uasDir,
  });
  await waitFor(
    () => {
      if (!uas.proc.running) throw new Error(`SIPp uas exited at once: ${uas.proc.tail().slice(-1500)}`);
      return udpBound(ports.uas);
    },
    { timeoutMs: 5000, intervalMs: 25, what: `SIPp uas on port ${ports.uas}` },
  );

  const sampler = new Sampler(250);
  for (const p of sut.processes) sampler.track(p.name, p.pid, { resetPeak: !p.tree, tree: Boolean(p.tree) });
  sampler.track('rtpengine', rtpengine.pid, { resetPeak: true });
  sampler.track('sippUas', uas.sippPid);
  if (cap) sampler.track('tcpdump', cap.pid);
  for (const p of sut.processes) sampler.trackUdpDropsOf(p.name, p.pid, { tree: Boolean(p.tree) });
  sampler.trackUdpDropsOf('rtpengine', rtpengine.pid).trackUdpDropsOf('sippUac', () => uacPid?.()).trackUdpDropsOf('sippUas', uas.sippPid);
  let uacPid;
  const udpBefore = udpCounters();
  const stepStartedAt = Date.now();
  const uac = await runSipp({
    name: 'sipp-uac',
    scenario: { file: UAC[variant.aLeg] },
    target: `127.0.0.1:${sut.sipPort}`,
    localIp: '127.0.0.1',
    localPort: ports.uac,
    mediaPort: await freePort({ pairPlus2: true }),
    controlPort: await freePort(),
    calls,
    rate,
    limit,
    recvTimeoutMs,
    timeoutSec,
    workDir: uacDir,
    extraArgs: ['-s', 'callee', ...(holdMs ? ['-d', String(holdMs)] : [])],
    onStart: (_proc, sippPid) => {
      uacPid = sippPid;
      sampler.track('sippUac', sippPid, { fromZero: true });
      sampler.start();
    },
  });
  const usage = sampler.stop();
  const stepEndedAt = Date.now();
  const udpAfter = udpCounters();

  // The uas ends once its last call is over; a uas still waiting for calls that never came is
  // stopped (those calls count as failed below).
  let uasResult = await Promise.race([uas.done, sleep(UAS_TIMEWAIT_MS + holdMs + 4000).then(() => undefined)]);
  let uasStopped = false;
  if (!uasResult) {
    uasStopped = true;
    await uas.proc.stop(2000);
    uasResult = await uas.done;
  }
  const captureStats = cap ? await cap.stop() : undefined;

  // Drain: the system should hold nothing and rtpengine should have no session left.
  let active;
  let sessions;
  for (let i = 0; i < Math.ceil(drainMs / 250) + 40; i++) {
    [active, sessions] = await Promise.all([sut.active(), newSessions(rtpengine, baseline)]);
    if ((active === 0 || active === undefined) && sessions.calls === 0) break;
    await sleep(250);
  }
  await sleep(drainMs);
  sessions = await newSessions(rtpengine, baseline);
  const commands = diffCounts(await rtpengine.commandCounts(), commandsBefore);

  const pdd = cap ? pddFromCapture(pcapFile, { uac: ports.uac, sut: sut.sipPort, uas: ports.uas }) : undefined;
  if (cap && !keepPcap) rmSync(pcapFile, { force: true });

  const st = uac.stats;
  const ust = uasResult.stats;
  const successful = st?.successful ?? 0;
  const failedUac = st ? Math.max(st.failed, calls - successful) : calls;
  const failedUas = ust ? Math.max(ust.failed, calls - ust.successful) : calls;
  const retransUac = Math.max(st?.retransmissions ?? 0, (uac.counts?.retransSent ?? 0) + (uac.counts?.retransRecv ?? 0));
  const retransUas = Math.max(ust?.retransmissions ?? 0, (uasResult.counts?.retransSent ?? 0) + (uasResult.counts?.retransRecv ?? 0));
  const activeSeconds = st ? Math.max(0.001, st.endEpoch - st.startEpoch - holdMs / 1000) : undefined;
  const cpu = {};
  for (const name of [...sut.processes.map((p) => p.name), 'rtpengine', 'sippUac', 'sippUas', 'tcpdump']) {
    if (usage[name]) cpu[name] = round(usage[name].cpuPercent);
  }
  const rss = {};
  for (const name of [...sut.processes.map((p) => p.name), 'rtpengine']) if (usage[name]) rss[name] = round(usage[name].peakRssMiB);
  const probes = {};
  for (const p of sut.processes) if (p.probeFile) probes[p.name] = probeWindow(p.probeFile, stepStartedAt, stepEndedAt);
  const result = {
    offeredRate: rate,
    calls,
    achievedRate: activeSeconds ? round(successful / activeSeconds) : 0,
    successful,
    // a call counts as failed when either end saw it fail or never saw it complete
    failed: Math.max(failedUac, failedUas),
    failedUac,
    failedUas,
    retransmissions: retransUac + retransUas,
    retransUac,
    retransUas,
    timeouts: (uac.counts?.timeouts ?? 0) + (uasResult.counts?.timeouts ?? 0),
    unexpected: (uac.counts?.unexpected ?? 0) + (uasResult.counts?.unexpected ?? 0),
    udpRcvbufDrops: udpBefore && udpAfter ? udpAfter.rcvbufErrors - udpBefore.rcvbufErrors : undefined,
    // datagrams dropped on full receive buffers, per process (all its UDP sockets)
    socketDrops: usage.udpDropsOf,
    pdd: pdd?.pdd,
    pddInviteLeg: pdd?.inviteLeg,
    pddAnswerLeg: pdd?.answerLeg,
    calleeAnswer: pdd?.callee,
    pddPairs: pdd ? { calls: pdd.calls, complete: pdd.complete, unparsed: pdd.unparsed, datagrams: pdd.datagrams } : undefined,
    capture: captureStats,
    avgResponseMs: st?.responseTime1,
    cpuPercent: cpu,
    peakRssMiB: rss,
    probes,
    cpuPressurePercent: round(usage.cpuPressurePercent),
    rtpengineSessionsBefore: sessionsBefore.calls,
    // sessions this variant created that rtpengine still holds (others = left by earlier variants)
    rtpengineSessionsAfter: sessions.error ? sessions.error : sessions.calls,
    rtpengineSessionsOthers: sessions.others,
    rtpengineSessionIds: sessions.callIds,
    rtpengineCommands: commands,
    sutActiveAfterDrain: active,
    sippTimedOut: Boolean(uac.timedOut || uasResult.timedOut),
    uasStopped,
    sippExit: uac.exitCode,
    uasExit: uasResult.exitCode,
    workDir,
    sippCommand: uac.commandLine,
    uasCommand: uasResult.commandLine,
  };
  const ours = Object.values(cpu).reduce((a, b) => a + (b ?? 0), 0);
  result.contended = (result.cpuPressurePercent ?? 0) > 40 && ours < 50 * cpus().length;
  if (!st) result.problem = `no SIPp uac statistics (exit ${uac.exitCode}); output:\n${uac.outputTail}`;
  else if (result.failed > 0) result.problem = [uac.errorsHead && `first uac errors:\n${uac.errorsHead}`, uasResult.errorsHead && `first uas errors:\n${uasResult.errorsHead}`].filter(Boolean).join('\n');
  if (typeof result.rtpengineSessionsAfter === 'number' && result.rtpengineSessionsAfter > 0) {
    result.problem = `${result.problem ? `${result.problem}\n` : ''}rtpengine still holds ${result.rtpengineSessionsAfter} session(s) after the drain, e.g. ${sessions.callIds.join(', ')}`;
  }
  return result;
}

/** The one-line progress report of a step. */
function describeStep(s) {
  const cpu = Object.entries(s.cpuPercent)
    .map(([k, v]) => `${k} ${v}%`)
    .join(', ');
  const pdd = s.pdd?.n ? `PDD added p50 ${s.pdd.p50} / p99 ${s.pdd.p99} ms (${s.pdd.n} calls)` : 'PDD n/a';
  return (
    `achieved ${s.achievedRate}/s, ok ${s.successful}, failed ${s.failed} (uac ${s.failedUac}/uas ${s.failedUas}), retrans ${s.retransmissions} (uac ${s.retransUac}/uas ${s.retransUas}), ` +
    `${pdd}, rtpengine sessions left ${s.rtpengineSessionsAfter}, CPU ${cpu}, CPU pressure ${s.cpuPressurePercent}%, udp drops ${dropsText(s)}`
  );
}

async function runVariant({ gatewayCli, variant, rtpengine, rates, stepSeconds, holdMs, recvTimeoutMs, drainMs, dir, profileDir, deadline, log, capture, keepPcap }) {
  mkdirSync(dir, { recursive: true });
  const ports = { sut: await freePort(), uac: await freePort(), uas: await freePort() };
  let sut;
  const label = `b2bua ${variant.id}`;
  // sessions already in rtpengine (left by an earlier variant) are not this variant's
  const baseline = new Set((await rtpengine.sessions()).all ?? []);
  try {
    sut =
      variant.system === 'gateway'
        ? await startGateway({ cli: gatewayCli, logDir: dir, profileDir, sipPort: ports.sut, uacPort: ports.uac, uasPort: ports.uas, ng: rtpengine.ng })
        : await startKamailio({ logDir: dir, sipPort: ports.sut, uasPort: ports.uas, ng: rtpengine.ng });
    log(`${label}: ${sut.processes.map((p) => `${p.name} pid ${p.pid}`).join(', ')} on udp 127.0.0.1:${ports.sut}; uac port ${ports.uac}, uas port ${ports.uas}`);
    const series = await runSeries({
      label,
      rates,
      stepSeconds,
      deadline,
      log,
      overheadSeconds: 3 + drainMs / 1000, // uas and capture start/stop (1.2 s to flush the capture), then the drain
      describe: describeStep,
      step: (rate, name) => runB2buaStep({ baseline, rate, stepSeconds, sut, rtpengine, variant, ports, holdMs, recvTimeoutMs, workDir: join(dir, name), drainMs, capture, keepPcap }),
    });
    // What the whole variant left in rtpengine, asked while the system under test still runs.
    const left = await newSessions(rtpengine, baseline);
    log(
      `${label}: rtpengine sessions left after the run: ${left.error ?? left.calls}${left.calls ? ` (e.g. ${left.callIds.join(', ')})` : ''}` +
        `${left.others ? `; ${left.others} more from earlier variants` : ''}`,
    );
    const status = await sut.status();
    return {
      ...variant,
      ...series,
      sessionsLeft: left.error ? left.error : left.calls,
      sessionIdsLeft: left.callIds,
      sessionsAtStart: baseline.size,
      sutStatusAtEnd: status,
      sutCommand: sut.commandLine,
      stepSeconds,
      holdMs,
      recvTimeoutMs,
    };
  } finally {
    if (sut) await sut.stop().catch(() => {});
    if (profileDir && sut?.kind === 'gateway') nameProfiles(profileDir, sut.processes);
  }
}

/** --cpu-prof writes CPU.<date>.<time>.<pid>.<tid>.<seq>.cpuprofile: name them after the process. */
function nameProfiles(profileDir, processes) {
  try {
    for (const f of readdirSync(profileDir)) {
      const pid = Number(/^CPU\.\d+\.\d+\.(\d+)\./.exec(f)?.[1]);
      const proc = processes.find((p) => p.pid === pid);
      if (proc) renameSync(join(profileDir, f), join(profileDir, `${proc.name}.cpuprofile`));
    }
  } catch {
    // no profiles (the process was killed before it could write one)
  }
}

/**
 * The whole B2BUA bench: one rtpengine, then each variant with its own system under test.
 * `variants` = ids to run (default all four); Kamailio variants are skipped, with a note, when
 * kamailio is not installed.
 */
export async function benchB2bua({ gatewayCli, rates, stepSeconds, holdMs, recvTimeoutMs, drainMs, runDir, profileDir, deadline, log, variants, keepPcap = false }) {
  const dir = join(runDir, 'b2bua');
  mkdirSync(dir, { recursive: true });
  const wanted = B2BUA_VARIANTS.filter((v) => !variants || variants.includes(v.id));
  const notes = [];
  const hasKamailio = Boolean(kamailioPath());
  if (!hasKamailio && wanted.some((v) => v.system === 'kamailio')) {
    const note = "kamailio is not installed: the Kamailio comparison is skipped. Install it with 'npm run setup' (Debian package kamailio) as root.";
    notes.push(note);
    log(`b2bua: ${note}`);
  }
  const capture = Boolean(tcpdumpPath());
  if (!capture) {
    const note = 'tcpdump is not installed: the post-dial delay from the wire is not measured (only SIPp\'s own INVITE->200 view). apt-get install tcpdump.';
    notes.push(note);
    log(`b2bua: ${note}`);
  }
  let rtpengine;
  const results = [];
  try {
    rtpengine = await startRtpengine({ logDir: dir });
    log(`b2bua: rtpengine pid ${rtpengine.pid}, ng 127.0.0.1:${rtpengine.ng.port}`);
    const runnable = wanted.filter((v) => v.system !== 'kamailio' || hasKamailio);
    for (const [i, variant] of runnable.entries()) {
      const requiredLeft = runnable.slice(i).filter((v) => !v.optional).length;
      const variantDeadline = variant.optional ? deadline : Date.now() + (deadline - Date.now()) / Math.max(1, requiredLeft);
      if (variant.optional && variantDeadline - Date.now() < 2 * (stepSeconds + 3 + drainMs / 1000) * 1000 + 3000) {
        const note = `${variant.id} skipped: the time budget left less than two steps (run it with --only b2bua --variants ${variant.id}).`;
        notes.push(note);
        log(`b2bua: ${note}`);
        results.push({ ...variant, skipped: 'time budget', steps: [] });
        continue;
      }
      const result = await runVariant({
        gatewayCli,
        variant,
        rtpengine,
        rates,
        stepSeconds,
        holdMs,
        recvTimeoutMs,
        drainMs,
        dir: join(dir, variant.id),
        profileDir: profileDir && join(profileDir, `b2bua-${variant.id}`),
        deadline: variantDeadline,
        log,
        capture,
        keepPcap,
      }).catch((err) => {
        log(`b2bua ${variant.id} failed: ${err.stack ?? err}`);
        return { ...variant, error: String(err.message ?? err), steps: [] };
      });
      results.push(result);
    }
    for (const v of wanted.filter((x) => x.system === 'kamailio' && !hasKamailio)) results.push({ ...v, skipped: 'kamailio is not installed', steps: [] });
    const finalSessions = await rtpengine.sessions();
    return {
      variants: results,
      ratios: ratios(results),
      notes,
      rtpengineCommand: rtpengine.commandLine,
      rtpengineSessionsAtEnd: finalSessions.error ?? finalSessions.calls,
      kamailioConfig: 'test/bench/kamailio/kamailio.cfg',
      pddMethod: capture ? 'tcpdump on lo (kernel timestamps), see capture.mjs' : 'not measured (no tcpdump)',
      stepSeconds,
      holdMs,
      recvTimeoutMs,
    };
  } finally {
    await rtpengine?.stop().catch(() => {});
  }
}

/** gateway ÷ Kamailio highest clean rate, per A-leg kind. */
function ratios(results) {
  const out = {};
  for (const aLeg of ['plain', 'webrtc']) {
    const gw = results.find((r) => r.system === 'gateway' && r.aLeg === aLeg);
    const ka = results.find((r) => r.system === 'kamailio' && r.aLeg === aLeg);
    if (!gw || !ka || gw.skipped || ka.skipped || gw.error || ka.error) continue;
    const g = gw.best?.offeredRate ?? 0;
    const k = ka.best?.offeredRate ?? 0;
    const capped = (r) => !r.error && r.steps.length > 0 && r.stoppedBecause === 'all steps passed';
    out[aLeg] = {
      gateway: g,
      kamailio: k,
      ratio: k > 0 ? Number((g / k).toFixed(2)) : undefined,
      // when a system passed every step, its figure is a lower bound
      gatewayIsLowerBound: capped(gw) || /time budget/.test(gw.stoppedBecause ?? ''),
      kamailioIsLowerBound: capped(ka) || /time budget/.test(ka.stoppedBecause ?? ''),
    };
  }
  return out;
}
