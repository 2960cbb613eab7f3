// The bench report: a markdown table per bench (pasteable into the README) and the same data
// as JSON.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

const v = (x) => (x === undefined || x === null || Number.isNaN(x) ? '–' : String(x));

const loop = (p) => (p ? `${p.loopP99MsWorstSecond}/${p.loopMaxMs}` : '–');

function stepTable(steps, unit) {
  const lines = [
    `| offered ${unit}/s | achieved ${unit}/s | ${unit}s | ok | failed | retrans (sent/recv) | UDP drops all (engine/sipp) | avg resp ms | engine CPU % | app CPU % | sipp CPU % | CPU pressure % | engine peak RSS MiB | app peak RSS MiB | loop delay p99/max ms engine | app |`,
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const s of steps) {
    lines.push(
      `| ${s.offeredRate} | ${v(s.achievedRate)} | ${s.calls} | ${s.successful} | ${s.failed} | ${s.retransmissions} (${v(s.retransSent)}/${v(s.retransRecv)}) | ${v(s.udpRcvbufDrops)} (${v(s.engineSocketDrops)}/${v(s.sippSocketDrops)}) | ` +
        `${v(s.avgResponseMs)} | ${v(s.engineCpuPercent)} | ${v(s.appCpuPercent)} | ${v(s.sippCpuPercent)} | ${v(s.cpuPressurePercent)} | ${v(s.enginePeakRssMiB)} | ${v(s.appPeakRssMiB)} | ${loop(s.engineProbe)} | ${loop(s.appProbe)} |`,
    );
  }
  return lines.join('\n');
}

function benchSection(title, unit, result) {
  if (!result) return '';
  if (result.error) return `### ${title}\n\nnot run: ${result.error}\n`;
  const best = result.best
    ? `**Highest rate with 0 failed, 0 retransmissions and at least 95 % of it achieved: ${result.best.offeredRate} ${unit}/s** (achieved ${result.best.achievedRate}/s).`
    : '**No step passed** (every step had failures or retransmissions).';
  const contended = result.steps.filter((s) => s.contended).map((s) => s.offeredRate);
  const warning = contended.length
    ? `\n> **Warning:** CPU contention from other processes during the ${contended.join(', ')}/s step(s): CPU pressure was high although engine+app+SIPp used well under the machine's cores. Rerun on a quiet machine before trusting these rows.\n`
    : '';
  return [
    `### ${title}`,
    '',
    best,
    warning,
    `Stopped: ${result.stoppedBecause}. Each step ${result.stepSeconds} s worth of ${unit}s; SIPp ${result.scenario}` +
      `${result.holdMs !== undefined ? `, hold ${result.holdMs} ms` : ''}, -recv_timeout ${result.recvTimeoutMs} ms.`,
    '',
    stepTable(result.steps, unit),
    '',
  ].join('\n');
}

/** "N (app 3, rtpengine 5)": the namespace total and the processes whose sockets dropped. */
export const dropsText = (s) => {
  const per = Object.entries(s.socketDrops ?? {}).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`);
  return `${v(s.udpRcvbufDrops)}${per.length ? ` (${per.join(', ')})` : ''}`;
};
const dist = (d) => (d?.n ? `${d.p50}/${d.p99}` : '–');
const cpuOf = (s, names) => names.map((n) => v(s.cpuPercent?.[n])).join(' / ');

/** Names of the processes of the system under test, in table order. */
function sutProcesses(variant) {
  return variant.system === 'gateway' ? ['engine', 'app'] : ['kamailio'];
}

function b2buaStepTable(variant) {
  const sut = sutProcesses(variant);
  const lines = [
    `| offered call/s | achieved | calls | ok | failed (uac/uas) | retrans (uac/uas) | UDP drops (per process) | PDD added p50/p99 ms | INVITE leg / 200 leg p50 ms | ${sut.join(' / ')} CPU % | rtpengine CPU % | sipp uac / uas CPU % | tcpdump CPU % | CPU pressure % | rtpengine sessions after step | ng offer/answer/delete |`,
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const s of variant.steps) {
    const c = s.rtpengineCommands ?? {};
    lines.push(
      `| ${s.offeredRate} | ${v(s.achievedRate)} | ${s.calls} | ${s.successful} | ${s.failed} (${s.failedUac}/${s.failedUas}) | ${s.retransmissions} (${s.retransUac}/${s.retransUas}) | ${dropsText(s)} | ` +
        `${dist(s.pdd)} | ${v(s.pddInviteLeg?.p50)} / ${v(s.pddAnswerLeg?.p50)} | ${cpuOf(s, sut)} | ${v(s.cpuPercent?.rtpengine)} | ${cpuOf(s, ['sippUac', 'sippUas'])} | ${v(s.cpuPercent?.tcpdump)} | ` +
        `${v(s.cpuPressurePercent)} | ${v(s.rtpengineSessionsAfter)} | ${v(c.offercount)}/${v(c.answercount)}/${v(c.deletecount)} |`,
    );
  }
  return lines.join('\n');
}

function b2buaSummary(b) {
  const lines = [
    '| system | A leg | highest rate, 0 failed, 0 retrans, ≥ 95 % achieved | PDD added p50 / p99 ms | system CPU % | rtpengine CPU % | sipp uac / uas CPU % | CPU pressure % | rtpengine sessions left | stopped |',
    '|---|---|---:|---:|---|---:|---:|---:|---:|---|',
  ];
  for (const r of b.variants) {
    const name = r.system === 'gateway' ? 'gateway (engine + app)' : 'Kamailio 5.6 (all processes)';
    if (r.skipped || r.error) {
      lines.push(`| ${name} | ${r.aLeg} | not run: ${r.skipped ?? r.error} | | | | | | | |`);
      continue;
    }
    const s = r.best;
    const sutCpu = s ? sutProcesses(r).map((n) => `${n} ${v(s.cpuPercent?.[n])}`).join(', ') : '–';
    lines.push(
      `| ${name} | ${r.aLeg === 'webrtc' ? 'WebRTC-style' : 'plain RTP'} | **${s ? `${s.offeredRate}/s` : 'none'}** | ${s ? `${v(s.pdd?.p50)} / ${v(s.pdd?.p99)}` : '–'} | ${sutCpu} | ${s ? v(s.cpuPercent?.rtpengine) : '–'} | ` +
        `${s ? cpuOf(s, ['sippUac', 'sippUas']) : '–'} | ${s ? v(s.cpuPressurePercent) : '–'} | ${v(r.sessionsLeft)} | ${r.stoppedBecause} |`,
    );
  }
  return lines.join('\n');
}

function b2buaSection(b) {
  if (!b) return '';
  if (b.error) return `### B2BUA calls per second with rtpengine\n\nnot run: ${b.error}\n`;
  const ratioLines = Object.entries(b.ratios ?? {}).map(([aLeg, r]) => {
    const lb = (x) => (x ? ' (lower bound: no step failed)' : '');
    return `- ${aLeg === 'webrtc' ? 'WebRTC-style' : 'plain RTP'} A leg: gateway ${r.gateway}/s${lb(r.gatewayIsLowerBound)} ÷ Kamailio ${r.kamailio}/s${lb(r.kamailioIsLowerBound)} = **${v(r.ratio)}**`;
  });
  const contended = b.variants.flatMap((r) => (r.steps ?? []).filter((s) => s.contended).map((s) => `${r.id} ${s.offeredRate}/s`));
  const leaked = b.variants.filter((r) => typeof r.sessionsLeft === 'number' && r.sessionsLeft > 0);
  const parts = [
    '### B2BUA calls per second with rtpengine offer/answer/delete on every call',
    '',
    'SIPp uac -> system under test -> SIPp uas, UDP on 127.0.0.1, all systems against the same rtpengine daemon. ' +
      'PDD added = per call, (200 to the uac leaves − INVITE from the uac arrives) − (200 from the uas arrives − INVITE to the uas leaves), ' +
      'from kernel timestamps of a tcpdump capture on lo (test/bench/capture.mjs); INVITE leg = INVITE in -> INVITE out (includes the rtpengine offer), 200 leg = 200 in -> 200 out (includes the answer). ' +
      `Each step ${b.stepSeconds} s of calls, hold ${b.holdMs} ms, -recv_timeout ${b.recvTimeoutMs} ms.`,
    '',
    ...(b.notes ?? []).map((n) => `> ${n}\n`),
    b2buaSummary(b),
    '',
    ratioLines.length ? `Ratio gateway ÷ Kamailio (highest clean rate):\n${ratioLines.join('\n')}` : 'Ratio gateway ÷ Kamailio: not available (Kamailio was not run).',
    '',
    leaked.length
      ? `> **rtpengine sessions left:** ${leaked.map((r) => `${r.id}: ${r.sessionsLeft}`).join(', ')} (must be 0; at the end of the bench rtpengine held ${v(b.rtpengineSessionsAtEnd)}).`
      : `rtpengine sessions left after every variant: 0 (checked with ng \`list\` while the system still ran; at the end of the bench: ${v(b.rtpengineSessionsAtEnd)}).`,
    contended.length
      ? `\n> **Warning:** CPU contention from other processes during ${contended.join(', ')}: CPU pressure was high although the bench's processes used well under the machine's cores. Rerun on a quiet machine before trusting these rows.\n`
      : '',
    `rtpengine: \`${b.rtpengineCommand}\`. Kamailio: \`${b.kamailioConfig}\`.`,
    '',
  ];
  for (const r of b.variants) {
    if (r.skipped || r.error) continue;
    parts.push(`#### ${r.title}`, '', `Stopped: ${r.stoppedBecause}. \`${r.sutCommand}\``, '', b2buaStepTable(r), '');
  }
  return parts.join('\n');
}

/** The whole report as markdown. */
export function renderMarkdown(report) {
  const m = report.machine;
  return [
    `## Benchmark (${report.date})`,
    '',
    `Command: \`${report.command}\`${report.options.quick ? ' (quick smoke run)' : ''}`,
    `Machine: ${m.cpus}× ${m.cpuModel}, Node ${m.node}, ${m.sipp}, load average at start ${m.loadAverageAtStart.join(' ')}; ` +
      `engine, app and SIPp share these cores. Git ${report.git}.${report.gatewayBuild ? ` Benched: ${report.gatewayBuild}.` : ''}`,
    'CPU % is of one core, sampled from /proc/PID/stat over the step (machine total = 100 % × cores); CPU pressure = share of the step during which some runnable task waited for a CPU (/proc/pressure/cpu "some"; contention from our processes and anything else on the machine). Peak RSS is VmHWM (reset per step where allowed).',
    'loop delay = event-loop delay (perf_hooks, preloaded probe): worst per-second p99 / max over the step.',
    'UDP drops = datagrams dropped on full socket receive buffers during the step: all = /proc/net/snmp RcvbufErrors (whole network namespace), engine/sipp = drops on the engine SIP socket / SIPp socket (/proc/net/udp).',
    'retrans = SIPp retransmissions: sent (SIPp resent a request: no answer within T1 = 500 ms, or the answer was dropped) / recv (SIPp got a duplicate response: a 2xx resent while waiting for the ACK, or the answer to a resent request).',
    '',
    benchSection('INVITE calls per second (answer app, UAC BYE)', 'call', report.invite),
    benchSection('REGISTER with digest auth per second (401 challenge + authenticated REGISTER = 1)', 'register', report.register),
    b2buaSection(report.b2bua),
    report.profiles?.length ? '### Engine CPU profile (node --cpu-prof)\n\n' + report.profiles.map((p) => p.markdown).join('\n\n') + '\n' : '',
    `Total bench time ${report.totalSeconds} s. Logs and SIPp files: ${report.runDir}`,
  ].join('\n');
}

export function writeJson(file, report) {
  mkdirSync(dirname(file), { recursive: true });
  const { profiles, ...rest } = report;
  const slim = { ...rest, profiles: profiles?.map(({ markdown, ...p }) => p) };
  writeFileSync(file, `${JSON.stringify(slim, null, 2)}\n`);
}
