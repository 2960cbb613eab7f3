/**
 * The srf testbed without our engine: namespace, name resolution, the long-running sipp UASes
 * and the docker shim, end to end (a shimmed `docker run` UAC calls a UAS). Needs root.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findExecutable, runCommand } from '../harness/child-processes.js';
import { NetworkNamespace, netnsUnavailableReason } from '../harness/netns.js';
import {
  createWorkDirs,
  startSippUases,
  waitForUdpListeners,
  writeDockerShims,
  type RunningUas,
  type WorkDirs,
} from './suite-runner.js';
import { loadSrfTestbed } from './testbed-topology.js';

const skipReason = netnsUnavailableReason() ?? (findExecutable('sipp') ? undefined : 'sipp is not installed');

describe.skipIf(skipReason)(`srf testbed in a namespace${skipReason ? ` — SKIPPED: ${skipReason}` : ''}`, () => {
  const testbed = loadSrfTestbed();
  const sippPath = findExecutable('sipp') ?? 'sipp';
  let netns: NetworkNamespace;
  let dirs: WorkDirs;
  let uases: RunningUas[] = [];

  beforeAll(async () => {
    dirs = createWorkDirs();
    writeDockerShims(dirs, testbed, sippPath);
    netns = await NetworkNamespace.create({ addresses: testbed.addresses, hosts: testbed.hosts });
    uases = startSippUases(testbed, netns, dirs, sippPath);
  });

  afterAll(async () => {
    await Promise.all(uases.map(({ sipp }) => sipp.stop(2000)));
    await netns?.destroy();
    if (dirs) rmSync(dirs.root, { recursive: true, force: true });
  });

  it('resolves the docker container names inside the namespace (getaddrinfo via the hosts file)', async () => {
    const lookup = await netns.exec('getent', ['ahostsv4', 'sipp-uas-auth-register-no-realm']);
    expect(lookup.stdout).toMatch(/^172\.29\.0\.17\s/);
    const node = await netns.exec(process.execPath, [
      '-e',
      "require('dns').lookup('drachtio-sut', { family: 4 }, (e, a) => console.log(e ? e.code : a))",
    ]);
    expect(node.stdout.trim()).toBe('172.29.0.10');
  });

  it('has only lo inside', async () => {
    const links = await netns.exec('ip', ['-o', 'link', 'show']);
    expect(links.stdout.trim().split('\n').map((line) => line.split(':')[1]?.trim())).toEqual(['lo']);
  });

  it('runs every long-running sipp UAS listening on its address, port 5060', async () => {
    const wanted = uases.map(({ role }) => `${role.address}:5060`);
    const bound = await waitForUdpListeners(netns, wanted, 5000);
    expect(wanted.filter((socket) => !bound.has(socket))).toEqual([]);
    expect(uases.filter(({ sipp }) => !sipp.running).map(({ role }) => role.containerName)).toEqual([]);
  });

  it('turns the suite’s `docker run` UAC into a local sipp call that completes against sipp-uas', async () => {
    const docker = [
      'run', '--rm', '--net', 'test_testbed', '-v', `${testbed.scenariosDir}:/tmp/scenarios`,
      'drachtio/sipp', 'sipp', '-sf', '/tmp/scenarios/uac.xml', '-m', '1', '-sleep', '250ms', '-nostdin',
      '-cid_str', '%u-%p@%s-1', 'sipp-uas',
    ];
    const env = { ...process.env, PATH: `${dirs.bin}:${process.env.PATH ?? ''}` };
    const result = await netns.exec('timeout', ['30', 'docker', ...docker], { env });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(/Successful call\s*\|\s*\d+\s*\|\s*1\b/);
    const log = readFileSync(join(dirs.shimLogs, '000-uac-uac.xml.log'), 'utf8');
    expect(log).toContain(`-> ${sippPath} -i 172.29.0.100 -cp 9100 -mp 30000 -sf ${testbed.scenariosDir}/uac.xml`);
    expect(log).toMatch(/finished .*: exit 0 \(sipp code 0/);
  });

  it('passes a failing sipp exit code through and accepts docker-compose as a no-op', async () => {
    const env = { ...process.env, PATH: `${dirs.bin}:${process.env.PATH ?? ''}` };
    const failing = await netns.exec(
      'timeout',
      ['30', 'docker', 'run', '--rm', '-v', `${testbed.scenariosDir}:/s`, 'drachtio/sipp', 'sipp', '-sf', '/s/uac-expect-404.xml',
        '-m', '1', '-nostdin', '-timeout', '5s', '-timeout_error', 'sipp-uas'],
      { env },
    );
    expect(failing.code).not.toBe(0);
    expect((await runCommand('sh', ['-c', 'docker-compose -f x up -d'], { env })).code).toBe(0);
  });

  it('fails a sipp run that outlives the shim time limit with 124, even though SIPp exits 0 on SIGTERM', async () => {
    const config = JSON.parse(readFileSync(join(dirs.root, 'docker-shim.json'), 'utf8')) as Record<string, unknown>;
    const shortConfig = join(dirs.root, 'docker-shim-short.json');
    writeFileSync(shortConfig, JSON.stringify({ ...config, timeoutSec: 1 }));
    const shim = fileURLToPath(new URL('./docker-shim.mjs', import.meta.url));
    // nobody answers on 172.29.0.26:5999, so the UAC would retransmit for 32 s
    const result = await netns.exec(
      process.execPath,
      [shim, 'run', '--rm', '-v', `${testbed.scenariosDir}:/s`, 'drachtio/sipp', 'sipp', '-sf', '/s/uac.xml', '-m', '1', '-nostdin', '172.29.0.26:5999'],
      { env: { ...process.env, SRF_DOCKER_SHIM_CONFIG: shortConfig } },
    );
    expect(result.code).toBe(124);
  });
});
