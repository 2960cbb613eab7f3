/**
 * The gateway's SIP engine as a real process for integration tests:
 *
 *   node gateway/dist/cli/index.js engine --contact <uri> --address <admin ip> --port <admin port>
 *        --secret <secret> --loglevel <level>
 *
 * optionally inside a network namespace. start() resolves once the admin (control) port accepts
 * TCP connections. All output is kept (memory tail + optional log file) so a failing test can
 * print it; crash signs (an early exit, "uncaught", "FATAL", a pino fatal record) are reported.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { OutputCapture, stopChild } from './child-processes.js';
import { registerExitCleanup } from './exit-cleanup.js';
import type { NetworkNamespace } from './netns.js';
import { waitForTcpPort } from './ports.js';
import { engineCliPath } from './repo-paths.js';

export interface EngineOptions {
  /** SIP contact, e.g. `sip:172.29.0.10;transport=udp` (the engine listens there). */
  contact: string;
  adminPort: number;
  adminAddress?: string;
  secret?: string;
  loglevel?: string;
  extraArgs?: readonly string[];
  netns?: NetworkNamespace;
  /** Name used in messages, e.g. "drachtio-sut". */
  label?: string;
  logFile?: string;
  readyTimeoutMs?: number;
  cliPath?: string;
  env?: NodeJS.ProcessEnv;
}

export interface EngineExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const CRASH_SIGNS = [/uncaught/i, /\bFATAL\b/, /"level":60\b/];

/** Lines of engine output that indicate a crash. */
export function engineCrashLines(output: string): string[] {
  return output.split('\n').filter((line) => CRASH_SIGNS.some((sign) => sign.test(line)));
}

export function engineArgs(options: EngineOptions): string[] {
  return [
    'engine',
    '--contact', options.contact,
    '--address', options.adminAddress ?? '127.0.0.1',
    '--port', String(options.adminPort),
    '--secret', options.secret ?? 'cymru',
    '--loglevel', options.loglevel ?? 'info',
    ...(options.extraArgs ?? []),
  ];
}

export class EngineProcess {
  private readonly capture: OutputCapture;
  private exitBeforeStop: EngineExit | undefined;
  private stopping = false;
  private readonly unregisterExitCleanup: () => void;

  private constructor(
    readonly child: ChildProcess,
    readonly options: EngineOptions,
  ) {
    this.capture = new OutputCapture(4_000_000, options.logFile);
    this.capture.attach(child);
    child.once('exit', (code, signal) => {
      if (!this.stopping) this.exitBeforeStop = { code, signal };
    });
    this.unregisterExitCleanup = registerExitCleanup(() => {
      child.kill('SIGKILL');
    });
  }

  /** Spawns the engine and waits until its admin port accepts TCP connections. */
  static async start(options: EngineOptions): Promise<EngineProcess> {
    const cli = options.cliPath ?? engineCliPath();
    if (!existsSync(cli)) {
      throw new Error(`engine CLI ${cli} does not exist; build it with \`npm run build\``);
    }
    const args = [cli, ...engineArgs(options)];
    const spawnOptions: SpawnOptions = { env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] };
    const child = options.netns
      ? options.netns.spawn(process.execPath, args, spawnOptions)
      : spawn(process.execPath, args, spawnOptions);
    const engine = new EngineProcess(child, options);
    const spawnFailure = new Promise<never>((_, reject) => child.once('error', reject));
    try {
      await Promise.race([
        spawnFailure,
        waitForTcpPort({
          host: options.adminAddress ?? '127.0.0.1',
          port: options.adminPort,
          timeoutMs: options.readyTimeoutMs ?? 15_000,
          netns: options.netns,
          givenUp: () => (engine.exitBeforeStop ? `the engine exited (${engine.describeExit()})` : undefined),
        }),
      ]);
    } catch (error) {
      await engine.stop();
      throw new Error(`${engine.label} did not start: ${(error as Error).message}\n${engine.tail(60)}`);
    }
    return engine;
  }

  get label(): string {
    return this.options.label ?? `engine ${this.options.contact}`;
  }

  /** stdout and stderr, interleaved. */
  get output(): string {
    return this.capture.output;
  }

  tail(lines: number): string {
    return this.capture.tail(lines);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** How the engine exited on its own, or undefined while it runs or when stop() ended it. */
  get unexpectedExit(): EngineExit | undefined {
    return this.exitBeforeStop;
  }

  /** Why this engine counts as crashed, or undefined when it did not. */
  crashReason(): string | undefined {
    const reasons: string[] = [];
    if (this.exitBeforeStop) reasons.push(`exited on its own (${this.describeExit()})`);
    const lines = engineCrashLines(this.capture.output);
    if (lines.length > 0) reasons.push(`crash output:\n${lines.slice(0, 10).join('\n')}`);
    return reasons.length > 0 ? `${this.label} ${reasons.join('; ')}` : undefined;
  }

  /** SIGTERM, SIGKILL after graceMs; waits for the exit and flushes the log file. */
  async stop(graceMs = 3000): Promise<void> {
    this.stopping = true;
    await stopChild(this.child, graceMs);
    this.unregisterExitCleanup();
    await this.capture.close();
  }

  private describeExit(): string {
    const exit = this.exitBeforeStop;
    if (!exit) return 'still running';
    return exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`;
  }
}
