/**
 * Reads TAP 13 as tape writes it: `# <test name>` comments, `ok N name` / `not ok N name`
 * assertions with optional indented YAML diagnostics, a `1..N` plan and the closing
 * `# tests / # pass / # fail` summary. Lines that are not TAP (console output of the tests) are
 * ignored.
 */
export interface TapAssertion {
  number: number;
  ok: boolean;
  name: string;
  /** The tape test (`# name` comment) this assertion belongs to. */
  test: string;
  /** Indented YAML block that followed a failing assertion, if any. */
  diagnostics: string;
}

export interface TapSummary {
  assertions: TapAssertion[];
  /** Tape test names in order of appearance. */
  tests: string[];
  plan: { first: number; last: number } | undefined;
  passed: number;
  failed: number;
  /** The counts tape printed in its closing summary (undefined when it never got that far). */
  reported: { tests?: number; pass?: number; fail?: number };
  /** True when both the plan and tape's closing summary were seen. */
  complete: boolean;
}

const ASSERTION = /^(not ok|ok)\b(?:\s+(\d+))?(?:\s+-)?\s*(.*)$/;
const PLAN = /^1\.\.(\d+)\b/;
const SUMMARY = /^#\s+(tests|pass|fail)\s+(\d+)\s*$/;
const FINAL_OK = /^#\s+ok\s*$/;

export function parseTap(text: string): TapSummary {
  const summary: TapSummary = {
    assertions: [],
    tests: [],
    plan: undefined,
    passed: 0,
    failed: 0,
    reported: {},
    complete: false,
  };
  let currentTest = '';
  let sawClosingSummary = false;
  let diagnosticsOf: TapAssertion | undefined;

  for (const rawLine of text.split('\n')) {
    const line = rawLine.replace(/\r$/, '');
    if (diagnosticsOf && /^\s{2,}\S/.test(line)) {
      diagnosticsOf.diagnostics += `${line}\n`;
      continue;
    }
    diagnosticsOf = undefined;

    const assertion = ASSERTION.exec(line);
    if (assertion) {
      const ok = assertion[1] === 'ok';
      const entry: TapAssertion = {
        number: Number(assertion[2] ?? summary.assertions.length + 1),
        ok,
        name: (assertion[3] ?? '').trim(),
        test: currentTest,
        diagnostics: '',
      };
      summary.assertions.push(entry);
      if (ok) summary.passed += 1;
      else summary.failed += 1;
      diagnosticsOf = entry;
      continue;
    }
    const plan = PLAN.exec(line);
    if (plan) {
      summary.plan = { first: 1, last: Number(plan[1]) };
      continue;
    }
    const counts = SUMMARY.exec(line);
    if (counts) {
      const key = counts[1] as 'tests' | 'pass' | 'fail';
      summary.reported[key] = Number(counts[2]);
      sawClosingSummary = true;
      continue;
    }
    if (FINAL_OK.test(line)) {
      sawClosingSummary = true;
      continue;
    }
    if (line.startsWith('# ')) {
      currentTest = line.slice(2).trim();
      summary.tests.push(currentTest);
    }
  }
  summary.complete = summary.plan !== undefined && sawClosingSummary;
  return summary;
}

/** True once the text holds tape's closing summary (the run is over even if the process lingers). */
export function tapIsFinished(text: string): boolean {
  return /^1\.\.\d+\s*$/m.test(text) && /^#\s+(ok|fail\s+\d+)\s*$/m.test(text);
}

/** Only the TAP of a tape process's output (version, tests, assertions with their YAML, plan, summary). */
export function tapLinesOnly(text: string): string {
  const kept: string[] = [];
  let inYaml = false;
  for (const line of text.split('\n')) {
    if (inYaml) {
      kept.push(line);
      if (/^\s+\.\.\.\s*$/.test(line)) inYaml = false;
      continue;
    }
    if (/^\s+---\s*$/.test(line) && kept.length > 0 && /^not ok\b/.test(kept[kept.length - 1] ?? '')) {
      kept.push(line);
      inYaml = true;
      continue;
    }
    if (/^(TAP version|ok\b|not ok\b|# |1\.\.\d)/.test(line)) kept.push(line);
  }
  return kept.join('\n');
}
