/**
 * Human-readable account of an srf-suite run: the one-line result, and for a failed run what a
 * developer needs to see what broke (TAP, every sipp run, the engines' logs).
 */
import { join } from 'node:path';
import type { SrfSuiteRun } from './suite-runner.js';
import { tapLinesOnly } from './tap-summary.js';

function section(title: string, body: string): string {
  return `\n===== ${title} =====\n${body.trimEnd()}\n`;
}

function lastLines(text: string, count: number): string {
  const lines = text.trimEnd().split('\n');
  return lines.length <= count ? lines.join('\n') : [`[... ${lines.length - count} lines above ...]`, ...lines.slice(-count)].join('\n');
}

/** The message table of SIPp's last scenario screen (what it sent and received), or the output's tail. */
export function sippMessageTable(output: string): string {
  const lines = output.split('\n');
  const header = lines.map((line) => line.includes('Messages  Retrans')).lastIndexOf(true);
  if (header < 0) return lastLines(output, 15);
  const end = lines.findIndex((line, index) => index > header && line.startsWith('-----'));
  const callsLine = lines.slice(0, header).reverse().find((line) => /Total-calls/.test(line));
  const totals = callsLine ? lines[lines.indexOf(callsLine) + 1] ?? '' : '';
  return [totals.trim() ? `  (port, total time, calls, transport): ${totals.trim().replace(/\s+/g, ' ')}` : '', ...lines.slice(header, end < 0 ? undefined : end)]
    .filter((line) => line.trim())
    .join('\n');
}

/** One line: assertions passed/failed, duration, result. */
export function summaryLine(run: SrfSuiteRun, problems: readonly string[]): string {
  const seconds = (run.durationMs / 1000).toFixed(1);
  const verdict = problems.length === 0 ? 'PASSED' : `FAILED (${problems.length} problem(s))`;
  return `drachtio-srf suite (${run.files.join(', ')}): ${run.tap.passed} passed, ${run.tap.failed} failed, ${seconds} s — ${verdict}`;
}

/** Everything needed to debug a failed run (leave out the TAP when it was already shown live). */
export function failureReport(run: SrfSuiteRun, problems: readonly string[], options: { includeTap?: boolean } = {}): string {
  const parts: string[] = [summaryLine(run, problems)];
  parts.push(section('problems', problems.map((problem) => `- ${problem}`).join('\n')));
  if (options.includeTap ?? true) {
    const tap = run.tapeOutput ? tapLinesOnly(run.tapeOutput) : '(none: tape did not run)';
    parts.push(section(`TAP (the tests' other console output is in ${join(run.workDir, 'tape.log')})`, tap));
  }

  const failedRuns = run.shimRuns.filter((shimRun) => !/\nfinished .*: exit 0 /.test(shimRun.text));
  const passedRuns = run.shimRuns.filter((shimRun) => !failedRuns.includes(shimRun));
  parts.push(
    section(
      `sipp runs started by the suite (docker shim): ${run.shimRuns.length}, ${failedRuns.length} not exiting 0`,
      [
        ...failedRuns.map((shimRun) => `--- ${shimRun.file}\n${lastLines(shimRun.text, 80)}`),
        ...passedRuns.map((shimRun) => `--- ${shimRun.file}: ${shimRun.text.split('\n')[1] ?? ''} (exit 0)`),
      ].join('\n'),
    ),
  );
  parts.push(
    section(
      'long-running sipp UASes',
      run.sippUases
        .map((uas) => {
          const state = [uas.listening ? 'listening' : 'NOT LISTENING', uas.earlyExit].filter(Boolean).join(', ');
          return `--- ${uas.containerName} ${uas.address}:5060 (${state}) log ${uas.logFile}\n${sippMessageTable(uas.outputTail)}`;
        })
        .join('\n'),
    ),
  );
  for (const engine of run.engines) {
    parts.push(
      section(
        `engine ${engine.label}${engine.crashReason ? ' (CRASHED)' : ''}: last lines; full log ${engine.logFile}`,
        engine.logTail,
      ),
    );
  }
  parts.push(`\nAll logs of this run: ${run.workDir}\n`);
  return parts.join('');
}
