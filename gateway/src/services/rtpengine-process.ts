/**
 * A local rtpengine daemon (Debian's rtpengine-daemon, userspace only) owned by the gateway:
 * started with the command line proven in docs (recipes §1), ready once it answers an ng ping,
 * stopped with SIGTERM (SIGKILL after a grace period), and never left behind:
 *  - an 'exit' hook kills it when the gateway process exits (normally or via process.exit);
 *  - when util-linux `setpriv` is available the daemon also gets PR_SET_PDEATHSIG=TERM, so even a
 *    SIGKILLed gateway takes its rtpengine with it.
 *
 * Important flags: --config-file=none (otherwise /etc/rtpengine/rtpengine.conf is merged in),
 * --table=-1 (no kernel module; never pass --no-fallback), --delete-delay=0 (a deleted call is gone
 * at once, so `list` is truthful). Log level 6 by default: level 7 dumps the DTLS private key.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { isIPv6 } from 'node:net';
import { createLogger } from '../logging/logger';

const log = createLogger('rtpengine-process');

export interface RtpengineProcessOptions {
  /** Program name (searched in PATH and the sbin directories) or a path. Default 'rtpengine'. */
  binary?: string;
  /** Media address rtpengine binds and advertises (--interface). */
  interface: string;
  ngHost: string;
  ngPort: number;
  portMin: number;
  portMax: number;
  /** Where rtpengine sends one JSON datagram per DTMF event (--dtmf-log-dest). */
  dtmfLogDest?: { host: string; port: number };
  /** Appended verbatim. Unknown options make rtpengine exit with 255 without a word. */
  extraArgs?: readonly string[];
  /** Run inside this network namespace (`ip netns exec NAME rtpengine ...`), e.g. for browser tests. */
  netns?: string;
  /** --log-level (syslog numbering). Default 6; 7 logs the DTLS private key. */
  logLevel?: number;
  readyTimeoutMs?: number;
  stopGraceMs?: number;
}

export class RtpengineNotFoundError extends Error {
  constructor(binary: string) {
    super(`rtpengine not found: run npm run setup (looked for '${binary}')`);
    this.name = 'RtpengineNotFoundError';
  }
}

const SBIN_DIRECTORIES = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Absolute path of `name` (PATH plus sbin), the path itself when it contains '/', or undefined. */
export function resolveExecutable(name: string, searchPath = process.env.PATH ?? ''): string | undefined {
  if (name.includes('/')) return isExecutableFile(name) ? name : undefined;
  for (const directory of [...searchPath.split(delimiter), ...SBIN_DIRECTORIES].filter(Boolean)) {
    const candidate = join(directory, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

function hostPort(host: string, port: number): string {
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The rtpengine argument list (without the program), exactly as it will be run. */
export function rtpengineArguments(options: RtpengineProcessOptions): string[] {
  const args = [
    '--config-file=none',
    '--foreground',
    '--log-stderr',
    '--table=-1',
    `--interface=${options.interface}`,
    `--listen-ng=${hostPort(options.ngHost, options.ngPort)}`,
    `--port-min=${options.portMin}`,
    `--port-max=${options.portMax}`,
    '--delete-delay=0',
    `--log-level=${options.logLevel ?? 6}`,
  ];
  if (options.dtmfLogDest) args.push(`--dtmf-log-dest=${hostPort(options.dtmfLogDest.host, options.dtmfLogDest.port)}`);
  return [...args, ...(options.extraArgs ?? [])];
}

/** Fails when something already holds the ng port, so we never mistake another daemon's pong for ours. */
function assertUdpPortFree(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket(isIPv6(host) ? 'udp6' : 'udp4');
    socket.once('error', (error: NodeJS.ErrnoException) => {
      socket.close();
      reject(new Error(`rtpengine ng port ${hostPort(host, port)} is not available: ${error.code ?? error.message}`));
    });
    socket.bind(port, host, () => socket.close(() => resolve()));
  });
}

/** One ng ping over UDP, sent from wherever this code runs. Resolves true on 'pong'. */
const PING_SCRIPT = `
const dgram = require('node:dgram');
const [host, port, timeoutMs] = process.argv.slice(1);
const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
const cookie = 'ready' + process.pid + '_' + Date.now();
const timer = setTimeout(() => { socket.close(); process.exit(1); }, Number(timeoutMs));
socket.on('message', (msg) => {
  if (msg.toString().startsWith(cookie + ' ') && msg.includes('4:pong')) { clearTimeout(timer); socket.close(); process.exit(0); }
});
socket.on('error', () => process.exit(1));
socket.send(Buffer.from(cookie + ' d7:command4:pinge'), Number(port), host);
`;

function runPingProbe(command: string, args: string[]): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = spawn(command, args, { stdio: 'ignore' });
    probe.once('error', () => resolve(false));
    probe.once('exit', (code) => resolve(code === 0));
  });
}

export class RtpengineProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  private exitReason: string | undefined;
  private removeExitHook: (() => void) | undefined;
  private stderrTail: string[] = [];

  constructor(private readonly options: RtpengineProcessOptions) {}

  get ngEndpoint(): { host: string; port: number } {
    return { host: this.options.ngHost, port: this.options.ngPort };
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.exitReason === undefined;
  }

  /** Spawns rtpengine and resolves once it answers an ng ping; rejects (and kills it) otherwise. */
  async start(): Promise<void> {
    if (this.child) throw new Error('rtpengine process already started');
    const binaryName = this.options.binary ?? 'rtpengine';
    const binary = resolveExecutable(binaryName);
    if (!binary) throw new RtpengineNotFoundError(binaryName);
    if (!this.options.netns) await assertUdpPortFree(this.options.ngHost, this.options.ngPort);

    const daemonArgs = rtpengineArguments(this.options);
    const command: string[] = [];
    if (this.options.netns) command.push(resolveExecutable('ip') ?? 'ip', 'netns', 'exec', this.options.netns);
    const setpriv = resolveExecutable('setpriv');
    if (setpriv) command.push(setpriv, '--pdeathsig', 'TERM');
    command.push(binary, ...daemonArgs);

    log.info({ command: command.join(' ') }, 'starting rtpengine');
    const child = spawn(command[0] as string, command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.exitReason = undefined;
    this.exited = new Promise((resolve) => {
      child.once('error', (error) => {
        this.exitReason = `spawn failed: ${error.message}`;
        resolve();
      });
      child.once('exit', (code, signal) => {
        this.exitReason = signal ? `killed by ${signal}` : `exited with code ${code}`;
        this.removeExitHook?.();
        this.removeExitHook = undefined;
        resolve();
      });
    });
    this.captureOutput(child);
    const onProcessExit = (): void => {
      if (this.exitReason === undefined) child.kill('SIGKILL');
    };
    process.on('exit', onProcessExit);
    this.removeExitHook = () => process.removeListener('exit', onProcessExit);

    try {
      await this.waitUntilReady();
    } catch (error) {
      await this.stop();
      throw error;
    }
    log.info({ pid: child.pid, ng: hostPort(this.options.ngHost, this.options.ngPort) }, 'rtpengine ready');
  }

  /** SIGTERM, then SIGKILL after stopGraceMs; resolves once the daemon is gone. Safe to call twice. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    if (this.exitReason === undefined) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), this.options.stopGraceMs ?? 3000);
      await this.exited;
      clearTimeout(timer);
    }
    this.removeExitHook?.();
    this.removeExitHook = undefined;
    this.child = undefined;
    log.info({ reason: this.exitReason }, 'rtpengine stopped');
  }

  /** The last lines rtpengine wrote (for error messages and test diagnostics). */
  recentOutput(): string {
    return this.stderrTail.join('\n');
  }

  private captureOutput(child: ChildProcess): void {
    let partial = '';
    const onData = (chunk: Buffer): void => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!line) continue;
        this.stderrTail.push(line);
        if (this.stderrTail.length > 50) this.stderrTail.shift();
        if (/\b(CRIT|ALERT|EMERG|ERR):/.test(line)) log.warn({ rtpengine: line }, 'rtpengine error');
        else log.debug({ rtpengine: line }, 'rtpengine');
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
  }

  private async pingOnce(timeoutMs: number): Promise<boolean> {
    const { ngHost, ngPort, netns } = this.options;
    const scriptArgs = ['-e', PING_SCRIPT, ngHost, String(ngPort), String(timeoutMs)];
    if (netns) return runPingProbe(resolveExecutable('ip') ?? 'ip', ['netns', 'exec', netns, process.execPath, ...scriptArgs]);
    return new Promise((resolve) => {
      const socket = dgram.createSocket(isIPv6(ngHost) ? 'udp6' : 'udp4');
      const cookie = `ready${process.pid}_${Date.now()}`;
      const finish = (ok: boolean): void => {
        clearTimeout(timer);
        socket.close();
        resolve(ok);
      };
      const timer = setTimeout(() => finish(false), timeoutMs);
      socket.on('message', (message) => {
        const text = message.toString();
        if (text.startsWith(`${cookie} `) && text.includes('4:pong')) finish(true);
      });
      socket.on('error', () => finish(false));
      socket.send(Buffer.from(`${cookie} d7:command4:pinge`), ngPort, ngHost);
    });
  }

  private async waitUntilReady(): Promise<void> {
    const timeoutMs = this.options.readyTimeoutMs ?? 5000;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.exitReason !== undefined) {
        throw new Error(
          `rtpengine ${this.exitReason} before it was ready` +
            (this.exitReason.includes('255') ? ' (255 also means an unknown option in extraArgs)' : '') +
            `: ${this.recentOutput().split('\n').slice(-3).join(' | ') || 'no output'}`,
        );
      }
      if (await this.pingOnce(200)) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`rtpengine did not answer an ng ping within ${timeoutMs} ms: ${this.recentOutput().split('\n').slice(-3).join(' | ')}`);
  }
}
