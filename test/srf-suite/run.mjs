#!/usr/bin/env node
// Runs drachtio-srf's integration suite against our engine outside vitest and prints the TAP as
// it comes, then the verdict (and on failure the sipp runs and engine logs). Needs root and a
// built engine (npm run build).
//
//   node test/srf-suite/run.mjs [--only b2b,uac,...] [--keep] [--loglevel debug] [--timeout SECONDS]
//
//   --only      run only these files (b2b, reinvite-tests, uac, uas, proxy, refer), in suite order
//   --keep      keep the work directory (all logs) even when the run passes
//   --loglevel  the engines' --loglevel (default info)
//   --timeout   kill tape after this many seconds (default 480)
// Exit status: 0 passed, 1 failed, 2 cannot run here.
// @ts-check
import { register } from 'node:module';
import { parseArgs } from 'node:util';

register('../harness/typescript-loader.mjs', import.meta.url);

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    keep: { type: 'boolean', default: false },
    loglevel: { type: 'string', default: 'info' },
    timeout: { type: 'string', default: '480' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help) {
  const { readFileSync } = await import('node:fs');
  const usage = readFileSync(new URL(import.meta.url), 'utf8').split('\n').slice(1, 13);
  console.log(usage.map((line) => line.replace(/^\/\/ ?/, '')).join('\n'));
  process.exit(0);
}

const { netnsUnavailableReason } = await import('../harness/netns.ts');
const { runSrfSuite, suiteProblems, discardWorkDir } = await import('./suite-runner.ts');
const { SUITE_FILES } = await import('./suite-verdict.ts');
const { failureReport, summaryLine } = await import('./suite-report.ts');

const unavailable = netnsUnavailableReason();
if (unavailable) {
  console.error(`cannot run the srf suite here: ${unavailable}`);
  process.exit(2);
}

/** @type {readonly import('./suite-verdict.ts').SuiteFile[]} */
let files = SUITE_FILES;
if (values.only) {
  const wanted = values.only.split(',').map((name) => name.trim().replace(/\.js$/, ''));
  const known = /** @type {readonly string[]} */ (SUITE_FILES);
  const unknown = wanted.filter((name) => !known.includes(name));
  if (unknown.length > 0) {
    console.error(`unknown suite file(s): ${unknown.join(', ')} (known: ${SUITE_FILES.join(', ')})`);
    process.exit(2);
  }
  files = SUITE_FILES.filter((file) => wanted.includes(file));
}

const run = await runSrfSuite({
  files,
  engineLogLevel: values.loglevel,
  tapeTimeoutMs: Number(values.timeout) * 1000,
  onTapeLine: (line) => console.log(line),
});
const problems = suiteProblems(run);
if (problems.length === 0) {
  console.log(`\n${summaryLine(run, problems)}`);
  if (values.keep) console.log(`logs: ${run.workDir}`);
  else discardWorkDir(run);
  process.exit(0);
}
console.log(`\n${failureReport(run, problems, { includeTap: false })}`);
process.exit(1);
