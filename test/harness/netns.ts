/**
 * Network namespaces for integration tests: a private network with only `lo` up, extra /32
 * addresses on lo, and an /etc/netns/<name>/hosts file that `ip netns exec` bind-mounts over
 * /etc/hosts, so getaddrinfo() inside resolves the names we choose.
 *
 * Every namespace is named `gwtest-<pid>-<random>`. It is deleted by destroy(), by an exit hook
 * when the test process ends abnormally, and, should the process die by SIGKILL, by the stale
 * sweep that the next create() performs for namespaces whose creating pid no longer exists.
 * Needs root (CAP_SYS_ADMIN) and iproute2.
 */
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { processIsAlive, runCommand, runCommandOrThrow, type CommandResult } from './child-processes.js';
import { registerExitCleanup } from './exit-cleanup.js';

const NAME_PREFIX = 'gwtest';
const OUR_NAMESPACE = new RegExp(`^${NAME_PREFIX}-(\\d+)-[0-9a-z]+$`);
const NETNS_ETC = '/etc/netns';

export interface NamespaceOptions {
  /** IPv4 addresses to add to lo, each as a /32. */
  addresses?: readonly string[];
  /** host name → IPv4 address, written to /etc/netns/<name>/hosts next to localhost. */
  hosts?: Readonly<Record<string, string>>;
}

/** Why network namespaces cannot be used here, or undefined when they can (creates and deletes a probe namespace). */
export function netnsUnavailableReason(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'network namespaces need root (run the tests as root, as CI does)';
  const probe = `${NAME_PREFIX}-${process.pid}-probe${randomBytes(2).toString('hex')}`;
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: 'pipe' });
    execFileSync('ip', ['netns', 'del', probe], { stdio: 'pipe' });
    return undefined;
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    return `'ip netns' is unavailable: ${stderr || (error as Error).message}`;
  }
}

/** Lines for a hosts file: localhost first, then one line per address with all its names. */
export function hostsFileText(hosts: Readonly<Record<string, string>>): string {
  const namesByAddress = new Map<string, string[]>();
  for (const [name, address] of Object.entries(hosts)) {
    namesByAddress.set(address, [...(namesByAddress.get(address) ?? []), name]);
  }
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback'];
  for (const [address, names] of namesByAddress) lines.push(`${address}\t${names.join(' ')}`);
  return `${lines.join('\n')}\n`;
}

function namespacePids(name: string): number[] {
  try {
    const out = execFileSync('ip', ['netns', 'pids', name], { stdio: 'pipe' }).toString();
    return out
      .split(/\s+/)
      .filter(Boolean)
      .map(Number)
      .filter((pid) => Number.isInteger(pid) && pid !== process.pid);
  } catch {
    return [];
  }
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** Kills everything inside, deletes the namespace and its /etc/netns directory; synchronous, for exit paths. */
function destroyNamespaceSync(name: string): void {
  for (const pid of namespacePids(name)) killQuietly(pid, 'SIGKILL');
  try {
    execFileSync('ip', ['netns', 'del', name], { stdio: 'pipe' });
  } catch {
    // already deleted
  }
  rmSync(join(NETNS_ETC, name), { recursive: true, force: true });
}

/** Deletes namespaces this harness created in processes that no longer exist. */
export function sweepStaleNamespaces(): string[] {
  let listing = '';
  try {
    listing = execFileSync('ip', ['netns', 'list'], { stdio: 'pipe' }).toString();
  } catch {
    return [];
  }
  const swept: string[] = [];
  for (const line of listing.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const match = OUR_NAMESPACE.exec(name);
    if (!match || processIsAlive(Number(match[1]))) continue;
    destroyNamespaceSync(name);
    swept.push(name);
  }
  return swept;
}

export class NetworkNamespace {
  private unregisterExitCleanup: (() => void) | undefined;
  private destroyed = false;

  private constructor(readonly name: string) {}

  /** Creates a namespace with lo up, the given /32 addresses on lo and the given hosts file. */
  static async create(options: NamespaceOptions = {}): Promise<NetworkNamespace> {
    sweepStaleNamespaces();
    const name = `${NAME_PREFIX}-${process.pid}-${randomBytes(3).toString('hex')}`;
    await runCommandOrThrow('ip', ['netns', 'add', name]);
    const namespace = new NetworkNamespace(name);
    namespace.unregisterExitCleanup = registerExitCleanup(() => destroyNamespaceSync(name));
    try {
      await runCommandOrThrow('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
      await namespace.addAddresses(options.addresses ?? []);
      namespace.writeHosts(options.hosts ?? {});
    } catch (error) {
      await namespace.destroy();
      throw error;
    }
    return namespace;
  }

  /** The hosts file that `ip netns exec` shows as /etc/hosts inside this namespace. */
  get hostsFile(): string {
    return join(NETNS_ETC, this.name, 'hosts');
  }

  async addAddresses(addresses: readonly string[]): Promise<void> {
    if (addresses.length === 0) return;
    const batch = addresses.map((address) => `address add ${address}/32 dev lo`).join('\n');
    await runCommandOrThrow('ip', ['-n', this.name, '-batch', '-'], { input: `${batch}\n` });
  }

  writeHosts(hosts: Readonly<Record<string, string>>): void {
    mkdirSync(join(NETNS_ETC, this.name), { recursive: true });
    writeFileSync(this.hostsFile, hostsFileText(hosts));
  }

  /** The command line that runs `command args` inside this namespace. */
  commandLine(command: string, args: readonly string[]): { command: string; args: string[] } {
    return { command: 'ip', args: ['netns', 'exec', this.name, command, ...args] };
  }

  /** Spawns a process inside the namespace (`ip netns exec` execs it, so the child's pid is the program's). */
  spawn(command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
    const line = this.commandLine(command, args);
    return spawn(line.command, line.args, options);
  }

  /** Runs a command inside the namespace to completion. */
  exec(command: string, args: readonly string[], options: SpawnOptions & { input?: string } = {}): Promise<CommandResult> {
    const line = this.commandLine(command, args);
    return runCommand(line.command, line.args, options);
  }

  /** Listening sockets inside the namespace as "address:port" strings (from `ss`). */
  async listeningSockets(protocol: 'udp' | 'tcp'): Promise<Set<string>> {
    const result = await this.exec('ss', ['-H', '-n', '-l', protocol === 'udp' ? '-u' : '-t']);
    const sockets = new Set<string>();
    for (const line of result.stdout.split('\n')) {
      const local = line.trim().split(/\s+/)[3];
      if (local) sockets.add(local);
    }
    return sockets;
  }

  /** Stops every process inside (SIGTERM, SIGKILL after graceMs), deletes the namespace and its /etc/netns files. */
  async destroy(graceMs = 2000): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    const pids = namespacePids(this.name);
    for (const pid of pids) killQuietly(pid, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (pids.some(processIsAlive) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    destroyNamespaceSync(this.name);
    this.unregisterExitCleanup?.();
  }
}
