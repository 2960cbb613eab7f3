/**
 * The docker testbed of drachtio-srf's integration suite, read from the installed package
 * (test/docker-compose-testbed.yaml and config/test.json) and re-created as plain addresses in
 * one network namespace: every container name becomes a hosts entry, every container address a
 * /32 on lo. Nothing from the package is copied; only its files' contents are read.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { packageDir } from '../harness/repo-paths.js';
import { rewriteVolumePaths } from './docker-invocation.mjs';

export interface ComposeService {
  service: string;
  /** container_name, or the service key when absent; other containers resolve it by this name. */
  containerName: string;
  image: string;
  command: string;
  ipv4Address: string;
  /** Bind mounts as absolute host path → container path. */
  volumes: { hostPath: string; containerPath: string }[];
}

/** A drachtio server container, replaced by one of our engine processes. */
export interface EngineRole {
  containerName: string;
  address: string;
  /** The admin port the suite's apps connect to on 127.0.0.1 (config/test.json). */
  adminPort: number;
  secret: string;
}

/** A long-running sipp UAS container, replaced by a local sipp process. */
export interface SippUasRole {
  containerName: string;
  address: string;
  /** The scenario file (-sf), as a real host path. */
  scenarioFile: string;
  /** The container's other sipp arguments, bind-mounted paths rewritten to host paths. */
  otherArgs: string[];
}

export interface SrfTestbed {
  srfDir: string;
  testDir: string;
  scenariosDir: string;
  configDir: string;
  engines: EngineRole[];
  sippUases: SippUasRole[];
  /** Every name that must resolve inside the namespace → its address. */
  hosts: Record<string, string>;
  /** Every address to put on lo (container addresses, ad-hoc containers, UAC pool). */
  addresses: string[];
  /** Addresses handed to the suite's `docker run` UACs, one per run (round robin). */
  uacAddresses: string[];
}

/** Containers the suite starts itself with `docker run --name` (not in the compose file). */
export const AD_HOC_CONTAINERS: Readonly<Record<string, string>> = {
  'sipp-uas-b-teardown': '172.29.0.30',
};

/** Spare testbed addresses for UACs: 172.29.0.100 - 172.29.0.199. */
export const UAC_ADDRESS_POOL: readonly string[] = Array.from({ length: 100 }, (_, i) => `172.29.0.${100 + i}`);

/**
 * Reads the services of a docker-compose file of the shape the srf testbed uses (a line-based
 * reader for that layout, not a general YAML parser; it fails loudly if the layout changes).
 */
export function parseComposeServices(yamlText: string, composeDir: string): ComposeService[] {
  const services: ComposeService[] = [];
  let inServices = false;
  let current: ComposeService | undefined;
  let inVolumes = false;
  for (const rawLine of yamlText.split('\n')) {
    const line = rawLine.replace(/\s+$/, '');
    if (!line.trim() || line.trim().startsWith('#')) continue;
    const indent = line.length - line.trimStart().length;
    if (indent === 0) {
      inServices = line === 'services:';
      current = undefined;
      continue;
    }
    if (!inServices) continue;
    const serviceKey = /^ {2}([\w.-]+):$/.exec(line);
    if (serviceKey?.[1]) {
      current = { service: serviceKey[1], containerName: serviceKey[1], image: '', command: '', ipv4Address: '', volumes: [] };
      services.push(current);
      inVolumes = false;
      continue;
    }
    if (!current) continue;
    const field = /^ {4}([\w_]+):\s*(.*)$/.exec(line);
    if (field?.[1] !== undefined) {
      const [, key, value = ''] = field;
      inVolumes = key === 'volumes';
      if (key === 'image') current.image = value;
      if (key === 'command') current.command = value;
      if (key === 'container_name') current.containerName = value;
      continue;
    }
    const volume = /^ {6}- (.+):(.+)$/.exec(line);
    if (inVolumes && volume?.[1] && volume[2]) {
      current.volumes.push({ hostPath: resolve(composeDir, volume[1]), containerPath: volume[2] });
      continue;
    }
    const address = /ipv4_address:\s*(\S+)/.exec(line);
    if (address?.[1]) current.ipv4Address = address[1];
  }
  for (const service of services) {
    if (!service.image || !service.ipv4Address) {
      throw new Error(`compose service ${service.service}: could not read its image and ipv4_address`);
    }
  }
  return services;
}

interface AppConnection {
  host: string;
  port: number;
  secret: string;
}

/** Reads the srf testbed from the installed drachtio-srf package. */
export function loadSrfTestbed(srfDir: string = packageDir('drachtio-srf')): SrfTestbed {
  const testDir = join(srfDir, 'test');
  const configDir = join(srfDir, 'config');
  const services = parseComposeServices(readFileSync(join(testDir, 'docker-compose-testbed.yaml'), 'utf8'), testDir);
  const appConfig = JSON.parse(readFileSync(join(configDir, 'test.json'), 'utf8')) as Record<string, AppConnection>;

  const engines: EngineRole[] = services
    .filter((service) => service.image.startsWith('drachtio/drachtio-server'))
    .map((service) => {
      const connection = appConfig[service.containerName];
      if (!connection) throw new Error(`config/test.json has no entry for ${service.containerName}`);
      return {
        containerName: service.containerName,
        address: service.ipv4Address,
        adminPort: connection.port,
        secret: connection.secret,
      };
    });

  const sippUases: SippUasRole[] = services
    .filter((service) => service.image.startsWith('drachtio/sipp'))
    .map((service) => {
      const [program, ...args] = service.command.split(/\s+/).filter(Boolean);
      if (program !== 'sipp') throw new Error(`compose service ${service.service}: expected a sipp command`);
      const hostArgs = rewriteVolumePaths(args, service.volumes);
      const scenarioAt = hostArgs.indexOf('-sf');
      const scenarioFile = hostArgs[scenarioAt + 1];
      if (scenarioAt < 0 || !scenarioFile) throw new Error(`compose service ${service.service}: no -sf scenario`);
      return {
        containerName: service.containerName,
        address: service.ipv4Address,
        scenarioFile,
        otherArgs: hostArgs.filter((_, index) => index !== scenarioAt && index !== scenarioAt + 1),
      };
    });

  const hosts: Record<string, string> = {};
  for (const service of services) hosts[service.containerName] = service.ipv4Address;
  Object.assign(hosts, AD_HOC_CONTAINERS);
  const addresses = [...new Set([...Object.values(hosts), ...UAC_ADDRESS_POOL])];
  return {
    srfDir,
    testDir,
    scenariosDir: join(testDir, 'scenarios'),
    configDir,
    engines,
    sippUases,
    hosts,
    addresses,
    uacAddresses: [...UAC_ADDRESS_POOL],
  };
}
