import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { escapeBracketsInAttributeValues, scenarioPathForLocalSipp, withLocalSippScenario } from './scenario-compat.mjs';
import { loadSrfTestbed } from './testbed-topology.js';

const cdataOf = (xml: string): string[] => xml.match(/<!\[CDATA\[[\s\S]*?\]\]>/g) ?? [];

describe('scenarios adapted for SIPp 3.6.1', () => {
  const outDir = mkdtempSync(join(tmpdir(), 'scenario-compat-'));
  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  it('escapes brackets in attribute values only, never inside CDATA', () => {
    const xml = `<recv request="INVITE">\n<action><ereg regexp="<sip:(.*)>" assign_to="3,4"/></action></recv>\n<send><![CDATA[\nContact: <sip:[local_ip]>\nX: a="<b>"\n]]></send>`;
    const adapted = escapeBracketsInAttributeValues(xml);
    expect(adapted).toContain('<ereg regexp="&lt;sip:(.*)&gt;" assign_to="3,4"/>');
    expect(cdataOf(adapted)).toEqual(cdataOf(xml));
    expect(escapeBracketsInAttributeValues(adapted)).toBe(adapted);
  });

  it("changes exactly the three scenarios with raw brackets and keeps their SIP messages byte for byte", () => {
    const { scenariosDir } = loadSrfTestbed();
    const changed: string[] = [];
    for (const file of readdirSync(scenariosDir).filter((name) => name.endsWith('.xml'))) {
      const original = join(scenariosDir, file);
      const used = scenarioPathForLocalSipp(original, outDir);
      if (used === original) continue;
      changed.push(file);
      const before = readFileSync(original, 'latin1');
      const after = readFileSync(used, 'latin1');
      expect(cdataOf(after)).toEqual(cdataOf(before));
      expect(after.replace(/&lt;/g, '<').replace(/&gt;/g, '>')).toBe(before);
    }
    expect(changed.sort()).toEqual(['uas-reinvite-with-auth.xml', 'uas-reinvite.xml', 'uas-update-with-sdp.xml']);
  });

  it('rewrites only the -sf argument of a sipp command line', () => {
    const { scenariosDir } = loadSrfTestbed();
    const args = ['-i', '1.2.3.4', '-sf', join(scenariosDir, 'uas-reinvite.xml'), '-nostdin'];
    expect(withLocalSippScenario(args, outDir)).toEqual(['-i', '1.2.3.4', '-sf', join(outDir, 'uas-reinvite.xml'), '-nostdin']);
    const untouched = ['-sf', join(scenariosDir, 'uas.xml'), '-m', '1'];
    expect(withLocalSippScenario(untouched, outDir)).toEqual(untouched);
  });
});
