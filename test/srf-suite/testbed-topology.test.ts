import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AD_HOC_CONTAINERS, loadSrfTestbed, parseComposeServices } from './testbed-topology.js';

describe('srf testbed read from the installed drachtio-srf', () => {
  const testbed = loadSrfTestbed();

  it('finds both drachtio servers with the admin ports the suite connects to', () => {
    expect(testbed.engines).toEqual([
      { containerName: 'drachtio-sut', address: '172.29.0.10', adminPort: 9061, secret: 'cymru' },
      { containerName: 'drachtio-uas', address: '172.29.0.19', adminPort: 9062, secret: 'cymru' },
    ]);
  });

  it('finds every long-running sipp UAS with an existing scenario on a distinct address', () => {
    expect(testbed.sippUases.length).toBe(17);
    const addresses = new Set(testbed.sippUases.map((uas) => uas.address));
    expect(addresses.size).toBe(testbed.sippUases.length);
    for (const uas of testbed.sippUases) {
      expect(existsSync(uas.scenarioFile), uas.scenarioFile).toBe(true);
      expect(uas.scenarioFile.startsWith(testbed.scenariosDir)).toBe(true);
    }
    expect(testbed.sippUases.find((uas) => uas.containerName === 'sipp-uas')).toMatchObject({
      address: '172.29.0.13',
      otherArgs: [],
    });
  });

  it('resolves every container name, including the ad-hoc ones, and keeps UAC addresses apart', () => {
    for (const name of ['drachtio-sut', 'drachtio-uas', 'sipp-uas', 'sipp-uas-auth', ...Object.keys(AD_HOC_CONTAINERS)]) {
      expect(testbed.hosts[name], name).toMatch(/^172\.29\.0\.\d+$/);
    }
    const taken = new Set(Object.values(testbed.hosts));
    expect(testbed.uacAddresses.filter((address) => taken.has(address))).toEqual([]);
    expect(new Set(testbed.addresses).size).toBe(testbed.addresses.length);
  });

  it('rejects a compose layout it cannot read', () => {
    expect(() => parseComposeServices('services:\n  box:\n    command: x\n', '/')).toThrow(/image and ipv4_address/);
  });
});
