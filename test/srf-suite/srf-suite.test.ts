/**
 * drachtio-srf's own integration suite (b2b, reinvite-tests, uac, uas, proxy, refer from
 * node_modules/drachtio-srf/test, unchanged) against our engine, in a namespace that re-creates
 * the suite's docker testbed. On the real drachtio-server these files produce 50 passing
 * assertions; so must we. Takes 2-3 minutes (one case waits out a 32 s ACK timeout).
 * Needs root and `ip netns`; skipped otherwise. Debug outside vitest: node test/srf-suite/run.mjs
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { netnsUnavailableReason } from '../harness/netns.js';
import { failureReport, summaryLine } from './suite-report.js';
import { discardWorkDir, runSrfSuite, suiteProblems, type SrfSuiteRun } from './suite-runner.js';
import { EXPECTED_PASSING_ASSERTIONS, EXPECTED_TESTS, SUITE_FILES } from './suite-verdict.js';

const SUITE_BUDGET_MS = 9 * 60_000;
const skipReason = netnsUnavailableReason();
if (skipReason) console.warn(`drachtio-srf suite SKIPPED: ${skipReason}`);

describe.skipIf(skipReason)(`drachtio-srf integration suite against our engine${skipReason ? ` — SKIPPED: ${skipReason}` : ''}`, () => {
  let run: SrfSuiteRun;
  let problems: string[] = [];

  beforeAll(async () => {
    run = await runSrfSuite();
    problems = suiteProblems(run);
    if (problems.length > 0) console.error(failureReport(run, problems));
    else console.log(summaryLine(run, problems));
  }, SUITE_BUDGET_MS);

  afterAll(() => {
    // keep the logs of a failed run for inspection (the report names the directory)
    if (run && problems.length === 0) discardWorkDir(run);
  });

  it('sets up the testbed: both engines start, every sipp UAS listens', () => {
    expect(run.setupError).toBeUndefined();
    expect(run.sippUases.filter((uas) => !uas.listening || uas.earlyExit).map((uas) => uas.containerName)).toEqual([]);
  });

  it(`runs to tape's summary with ${EXPECTED_PASSING_ASSERTIONS} passing and 0 failing assertions`, () => {
    expect(run.tapeExit?.timedOut).toBe(false);
    expect(run.tap.complete).toBe(true);
    expect(run.tap.failed).toBe(0);
    expect(run.tap.passed).toBe(EXPECTED_PASSING_ASSERTIONS);
    expect(run.tap.reported).toMatchObject({ pass: EXPECTED_PASSING_ASSERTIONS });
    expect(run.tap.reported.fail ?? 0).toBe(0);
  });

  it.each(SUITE_FILES)('%s.js: every named assertion is ok', (file) => {
    const expected = EXPECTED_TESTS[file];
    const inTest = run.tap.assertions.filter((assertion) => assertion.test === expected.test);
    expect(run.tap.tests).toContain(expected.test);
    expect(inTest.filter((assertion) => !assertion.ok).map((assertion) => `not ok ${assertion.number} ${assertion.name}`)).toEqual([]);
    expect(inTest.map((assertion) => assertion.name).sort()).toEqual([...expected.assertions].sort());
  });

  it('no engine crashed (no early exit, no "uncaught"/"FATAL" in its output)', () => {
    expect(run.engines.map((engine) => engine.label)).toEqual(['drachtio-sut', 'drachtio-uas']);
    expect(run.engines.map((engine) => engine.crashReason).filter(Boolean)).toEqual([]);
  });

  it('leaves no other problem', () => {
    expect(problems).toEqual([]);
  });
});
