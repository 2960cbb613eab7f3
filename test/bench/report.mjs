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
    ? `**Highest rate with 0 failed and 0 retransmissions: ${result.best.offeredRate} ${unit}/s** (achieved ${result.best.achievedRate}/s).`
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

/** The whole report as markdown. */
export function renderMarkdown(report) {
  const m = report.machine;
  return [
    `## Engine benchmark (${report.date})`,
    '',
    `Command: \`${report.command}\`${report.options.quick ? ' (quick smoke run)' : ''}`,
    `Machine: ${m.cpus}× ${m.cpuModel}, Node ${m.node}, ${m.sipp}, load average at start ${m.loadAverageAtStart.join(' ')}; ` +
      `engine, app and SIPp share these cores. Git ${report.git}.`,
    'CPU % is of one core, sampled from /proc/PID/stat over the step (machine total = 100 % × cores); CPU pressure = share of the step during which some runnable task waited for a CPU (/proc/pressure/cpu "some"; contention from our processes and anything else on the machine). Peak RSS is VmHWM (reset per step where allowed).',
    'loop delay = event-loop delay (perf_hooks, preloaded probe): worst per-second p99 / max over the step.',
    'UDP drops = datagrams dropped on full socket receive buffers during the step: all = /proc/net/snmp RcvbufErrors (whole network namespace), engine/sipp = drops on the engine SIP socket / SIPp socket (/proc/net/udp).',
    'retrans = SIPp retransmissions: sent (SIPp resent a request: no answer within T1 = 500 ms, or the answer was dropped) / recv (SIPp got a duplicate response: a 2xx resent while waiting for the ACK, or the answer to a resent request).',
    '',
    benchSection('INVITE calls per second (answer app, UAC BYE)', 'call', report.invite),
    benchSection('REGISTER with digest auth per second (401 challenge + authenticated REGISTER = 1)', 'register', report.register),
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
