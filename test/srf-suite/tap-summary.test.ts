import { describe, expect, it } from 'vitest';
import { parseTap, tapIsFinished, tapLinesOnly } from './tap-summary.js';
import { EXPECTED_PASSING_ASSERTIONS, EXPECTED_TESTS, SUITE_FILES, tapProblems } from './suite-verdict.js';

const failingSample = `TAP version 13
# B2B
ok 1 b2b handles PRACK for both UAS and UAC
sipp exited with non-zero code 1 signal null
not ok 2 Error: 1
  ---
    operator: error
    at: <anonymous> (/x/b2b.js:480:9)
  ...
# UAC
ok 3 Srf#createUAC sends PRACK when received RSeq

1..3
# tests 3
# pass  2
# fail  1
`;

/** The TAP tape prints when the whole suite passes (assertion names from the expectation table). */
function passingSuiteTap(): string {
  const lines = ['TAP version 13'];
  let number = 0;
  for (const file of SUITE_FILES) {
    lines.push(`# ${EXPECTED_TESTS[file].test}`);
    for (const name of EXPECTED_TESTS[file].assertions) lines.push(`ok ${++number} ${name}`);
  }
  lines.push('', `1..${number}`, `# tests ${number}`, `# pass  ${number}`, '', '# ok', '');
  return lines.join('\n');
}

describe('TAP summary', () => {
  it('reads assertions, their tests, diagnostics, plan and closing summary; ignores other output', () => {
    const tap = parseTap(failingSample);
    expect(tap.tests).toEqual(['B2B', 'UAC']);
    expect(tap.passed).toBe(2);
    expect(tap.failed).toBe(1);
    expect(tap.plan).toEqual({ first: 1, last: 3 });
    expect(tap.reported).toEqual({ tests: 3, pass: 2, fail: 1 });
    expect(tap.complete).toBe(true);
    const failure = tap.assertions[1];
    expect(failure).toMatchObject({ number: 2, ok: false, name: 'Error: 1', test: 'B2B' });
    expect(failure?.diagnostics).toContain('operator: error');
    expect(tap.assertions[2]).toMatchObject({ ok: true, test: 'UAC' });
  });

  it('strips console noise but keeps assertions with their YAML', () => {
    const tap = tapLinesOnly(failingSample);
    expect(tap).not.toContain('sipp exited');
    expect(tap).toContain('    operator: error');
    expect(tap.split('\n').filter((line) => /^(not )?ok /.test(line))).toHaveLength(3);
  });

  it('knows when tape has finished', () => {
    expect(tapIsFinished(failingSample)).toBe(true);
    expect(tapIsFinished(passingSuiteTap())).toBe(true);
    expect(tapIsFinished('TAP version 13\n# B2B\nok 1 x\n')).toBe(false);
  });

  it('accepts the full passing suite: 50 named assertions in six tests', () => {
    const tap = parseTap(passingSuiteTap());
    expect(tap.passed).toBe(EXPECTED_PASSING_ASSERTIONS);
    expect(tapProblems(tap)).toEqual([]);
  });

  it('names what is wrong with a failed or cut-off run', () => {
    const withFailure = passingSuiteTap().replace('ok 21 Srf#createUAC', 'not ok 21 Srf#createUAC');
    const problems = tapProblems(parseTap(withFailure));
    expect(problems).toContain('uac.js: not ok 21 Srf#createUAC sends PRACK when received RSeq');
    expect(problems.join('\n')).toMatch(/49 assertions passed, expected 50/);

    const cutOff = passingSuiteTap().split('# UAS')[0] ?? '';
    const cutOffProblems = tapProblems(parseTap(cutOff)).join('\n');
    expect(cutOffProblems).toMatch(/incomplete/);
    expect(cutOffProblems).toMatch(/uas\.js: its tape test "UAS" never started/);
  });
});
