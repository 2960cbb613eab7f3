// @ts-check
// Presents drachtio-srf's SIPp scenarios in a form Debian's SIPp 3.6.1 parses.
//
// Three of the suite's UAS scenarios (uas-reinvite, uas-reinvite-with-auth, uas-update-with-sdp)
// carry a raw `<` and `>` inside an attribute value: <ereg regexp="<sip:(.*)>" .../>. The SIPp in
// the drachtio/sipp docker image accepts that; SIPp 3.6.1 stops with "Invalid XML in scenario".
// Writing the brackets as &lt; and &gt; is the same XML to any conforming parser, and SIPp 3.6.1
// unescapes the entities, so the regexp it compiles is exactly the original one. Nothing else in
// a scenario is touched; scenarios that parse as they are are used in place. The adapted copy
// goes to the run's work directory (never into the repository or node_modules).
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

const CDATA_SECTION = /<!\[CDATA\[[\s\S]*?\]\]>/g;
const QUOTED_ATTRIBUTE_VALUE = /(=\s*)(?:"([^"]*)"|'([^']*)')/g;

/** @param {string} value */
function escapeBrackets(value) {
  return value.replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Escapes `<` and `>` inside quoted attribute values, outside CDATA sections (SIP message
 * templates live in CDATA and stay byte for byte the same).
 * @param {string} xml
 * @returns {string}
 */
export function escapeBracketsInAttributeValues(xml) {
  /** @param {string} markup */
  const fixMarkup = (markup) =>
    markup.replace(QUOTED_ATTRIBUTE_VALUE, (_all, equals, doubleQuoted, singleQuoted) =>
      doubleQuoted !== undefined ? `${equals}"${escapeBrackets(doubleQuoted)}"` : `${equals}'${escapeBrackets(singleQuoted)}'`,
    );
  let result = '';
  let last = 0;
  for (const cdata of xml.matchAll(CDATA_SECTION)) {
    const start = cdata.index ?? 0;
    result += fixMarkup(xml.slice(last, start)) + cdata[0];
    last = start + cdata[0].length;
  }
  return result + fixMarkup(xml.slice(last));
}

/**
 * The path of a scenario SIPp 3.6.1 can load: the original when it needs nothing, otherwise an
 * adapted copy in outDir (written atomically, so concurrent callers are safe).
 * @param {string} scenarioPath
 * @param {string} outDir
 * @returns {string}
 */
export function scenarioPathForLocalSipp(scenarioPath, outDir) {
  const original = readFileSync(scenarioPath, 'latin1');
  const adapted = escapeBracketsInAttributeValues(original);
  if (adapted === original) return scenarioPath;
  mkdirSync(outDir, { recursive: true });
  const target = join(outDir, basename(scenarioPath));
  const temporary = `${target}.${process.pid}.tmp`;
  writeFileSync(temporary, adapted, 'latin1');
  renameSync(temporary, target);
  return target;
}

/**
 * Rewrites the `-sf <file>` of a sipp argument list with scenarioPathForLocalSipp().
 * @param {readonly string[]} sippArgs
 * @param {string} outDir
 * @returns {string[]}
 */
export function withLocalSippScenario(sippArgs, outDir) {
  const at = sippArgs.indexOf('-sf');
  const file = at >= 0 ? sippArgs[at + 1] : undefined;
  if (file === undefined) return [...sippArgs];
  const args = [...sippArgs];
  args[at + 1] = scenarioPathForLocalSipp(file, outDir);
  return args;
}
