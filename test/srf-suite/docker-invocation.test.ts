import { describe, expect, it } from 'vitest';
import { parseDockerRun, translateDockerRun, UnsupportedDockerInvocation, type ShimAllocation } from './docker-invocation.mjs';

const scenarios = '/repo/node_modules/drachtio-srf/test/scenarios';
const allocation: ShimAllocation = {
  slot: 3,
  containerAddresses: { 'drachtio-sut': '172.29.0.10', 'sipp-uas-b-teardown': '172.29.0.30' },
  uacAddresses: ['172.29.0.100', '172.29.0.101'],
  controlPortBase: 9100,
  mediaPortBase: 30000,
};

// exactly what drachtio-srf's test/sipp.js passes to `docker`
const uacArgv = [
  'run', '--rm', '--net', 'test_testbed',
  '-v', `${scenarios}:/tmp/scenarios`,
  'drachtio/sipp', 'sipp', '-sf', '/tmp/scenarios/uac-prack.xml',
  '-m', '1', '-sleep', '250ms', '-nostdin', '-cid_str', '%u-%p@%s-7', 'drachtio-sut',
];
const namedUasArgv = [
  'run', '--rm', '--net', 'test_testbed', '--name', 'sipp-uas-b-teardown',
  '-v', `${scenarios}:/tmp/scenarios`,
  'drachtio/sipp', 'sipp', '-sf', '/tmp/scenarios/uas.xml', '-m', '1', '-nostdin',
];

describe('docker run → local sipp translation', () => {
  it('parses the docker options, image and command', () => {
    const run = parseDockerRun(namedUasArgv);
    expect(run).toMatchObject({
      name: 'sipp-uas-b-teardown',
      network: 'test_testbed',
      image: 'drachtio/sipp',
      volumes: [{ hostPath: scenarios, containerPath: '/tmp/scenarios' }],
    });
    expect(run.command[0]).toBe('sipp');
  });

  it('gives a UAC a spare address and distinct ports, rewrites the scenario path, keeps the rest', () => {
    const invocation = translateDockerRun(uacArgv, allocation);
    expect(invocation.kind).toBe('uac');
    expect(invocation.scenario).toBe('uac-prack.xml');
    expect(invocation.sippArgs).toEqual([
      '-i', '172.29.0.101', '-cp', '9103', '-mp', '30012',
      '-sf', `${scenarios}/uac-prack.xml`,
      '-m', '1', '-sleep', '250ms', '-nostdin', '-cid_str', '%u-%p@%s-7', 'drachtio-sut',
    ]);
  });

  it('binds a --name container to its testbed address on port 5060', () => {
    const invocation = translateDockerRun(namedUasArgv, { ...allocation, slot: 0 });
    expect(invocation).toMatchObject({ kind: 'named-uas', containerName: 'sipp-uas-b-teardown', localAddress: '172.29.0.30' });
    expect(invocation.sippArgs).toEqual([
      '-i', '172.29.0.30', '-p', '5060', '-cp', '9100', '-mp', '30000',
      '-sf', `${scenarios}/uas.xml`, '-m', '1', '-nostdin',
    ]);
  });

  it('gives concurrent runs different ports and addresses', () => {
    const first = translateDockerRun(uacArgv, { ...allocation, slot: 0 });
    const second = translateDockerRun(uacArgv, { ...allocation, slot: 1 });
    expect(first.localAddress).not.toBe(second.localAddress);
    expect(first.controlPort).not.toBe(second.controlPort);
    expect(Math.abs(first.mediaPort - second.mediaPort)).toBeGreaterThanOrEqual(4);
  });

  it('replaces -i/-cp/-mp from the original command line instead of duplicating them', () => {
    const argv = [...uacArgv.slice(0, 8), '-i', '10.0.0.1', '-cp', '8888', ...uacArgv.slice(8)];
    const args = translateDockerRun(argv, allocation).sippArgs;
    expect(args.filter((arg) => arg === '-i')).toHaveLength(1);
    expect(args).not.toContain('10.0.0.1');
    expect(args).not.toContain('8888');
  });

  it('accepts --opt=value forms', () => {
    const run = parseDockerRun(['run', '--rm', '--network=test_testbed', '--name=x', '--volume=/a:/b', 'img', 'sipp']);
    expect(run).toMatchObject({ network: 'test_testbed', name: 'x', volumes: [{ hostPath: '/a', containerPath: '/b' }] });
  });

  it('refuses what it cannot emulate', () => {
    expect(() => translateDockerRun(['ps'], allocation)).toThrow(UnsupportedDockerInvocation);
    expect(() => translateDockerRun(['run', '--rm', 'drachtio/sipp', 'bash'], allocation)).toThrow(/only sipp/);
    expect(() => translateDockerRun([...namedUasArgv.slice(0, 5), 'unknown-box', ...namedUasArgv.slice(6)], allocation)).toThrow(
      /no testbed address/,
    );
  });
});
