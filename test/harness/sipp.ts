/**
 * SIPp for integration tests. Every instance gets its own local address (-i), SIP port (-p),
 * media port (-mp, SIPp also binds -mp+2) and control port (-cp; SIPp binds 0.0.0.0:8888 by
 * default), so instances never collide. Instances that run to completion are wrapped in
 * coreutils `timeout` so a stuck scenario cannot hang the test run.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { OutputCapture, stopChild } from './child-processes.js';
import type { NetworkNamespace } from './netns.js';

export interface SippOptions {
  /** A scenario file (-sf) or one of SIPp's built-in scenarios (-sn, e.g. "uas", "uac"). */
  scenario: { file: string } | { builtin: string };
  /** Remote host[:port] for a UAC; omit for a UAS. */
  target?: string;
  localIp: string;
  /** Local SIP port; SIPp picks a free one when omitted. */
  localPort?: number;
  mediaPort: number;
  controlPort: number;
  /** -m: stop after this many calls; omit for a UAS that loops until stopped. */
  calls?: number;
  /** Guard for instances that run to completion; killed (exit 124) after this many seconds. */
  timeoutSec?: number;
  transport?: 'u1' | 'un' | 't1' | 'tn';
  /** Further SIPp options, placed before the target. */
  extraArgs?: readonly string[];
  /** Write -trace_stat CSV here (-stf) and parse it into SippResult.stats. */
  traceStatFile?: string;
  netns?: NetworkNamespace;
  /** Working directory (SIPp writes its trace files there). */
  cwd?: string;
  /** Append all output to this file as well. */
  logFile?: string;
  sippPath?: string;
}

export interface SippResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** True when the `timeout` guard killed it. */
  timedOut: boolean;
  /** stdout and stderr, interleaved. */
  output: string;
  stats?: SippTraceStats;
}

/** The cumulative counters of the last -trace_stat row, plus every column by name. */
export interface SippTraceStats {
  successfulCalls: number;
  failedCalls: number;
  totalCalls: number;
  columns: Record<string, string>;
}

/** The argument list for `sipp` (without the timeout wrapper). */
export function sippArgs(options: SippOptions): string[] {
  const args: string[] = [];
  if ('file' in options.scenario) args.push('-sf', options.scenario.file);
  else args.push('-sn', options.scenario.builtin);
  args.push('-i', options.localIp);
  if (options.localPort !== undefined) args.push('-p', String(options.localPort));
  args.push('-mp', String(options.mediaPort), '-cp', String(options.controlPort));
  if (options.transport) args.push('-t', options.transport);
  if (options.calls !== undefined) args.push('-m', String(options.calls));
  if (options.traceStatFile) args.push('-trace_stat', '-stf', options.traceStatFile);
  args.push('-nostdin', ...(options.extraArgs ?? []));
  if (options.target) args.push(options.target);
  return args;
}

/** Parses a SIPp -trace_stat CSV (`;`-separated, header row first) and returns its last row. */
export function parseTraceStatCsv(text: string): SippTraceStats {
  const rows = text
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => line.split(';'));
  const header = rows[0];
  const last = rows[rows.length - 1];
  if (!header || !last || rows.length < 2) throw new Error('trace_stat CSV has no data row');
  const columns: Record<string, string> = {};
  header.forEach((name, index) => {
    if (name) columns[name] = last[index] ?? '';
  });
  const counter = (name: string): number => Number(columns[name] ?? Number.NaN);
  return {
    successfulCalls: counter('SuccessfulCall(C)'),
    failedCalls: counter('FailedCall(C)'),
    totalCalls: counter('TotalCallCreated'),
    columns,
  };
}

export class SippProcess {
  readonly result: Promise<SippResult>;
  private readonly capture: OutputCapture;

  constructor(
    readonly child: ChildProcess,
    readonly options: SippOptions,
  ) {
    this.capture = new OutputCapture(1_000_000, options.logFile);
    this.capture.attach(child);
    this.result = new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) => {
        void this.capture.close().then(() => resolve(this.finish(code, signal)));
      });
    });
  }

  /** Output so far (stdout and stderr interleaved). */
  get output(): string {
    return this.capture.output;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGTERM (SIPp shuts down gracefully, which takes a moment), SIGKILL after graceMs. */
  async stop(graceMs = 3000): Promise<SippResult> {
    await stopChild(this.child, graceMs);
    return this.result;
  }

  private finish(code: number | null, signal: NodeJS.Signals | null): SippResult {
    const timedOut = this.options.timeoutSec !== undefined && (code === 124 || code === 137);
    const result: SippResult = { exitCode: code, signal, timedOut, output: this.capture.output };
    const statFile = this.options.traceStatFile;
    if (statFile && existsSync(statFile)) {
      try {
        result.stats = parseTraceStatCsv(readFileSync(statFile, 'utf8'));
      } catch {
        // an empty CSV (sipp died at once) leaves stats undefined
      }
    }
    return result;
  }
}

/** Starts SIPp (inside options.netns when given) and returns at once. */
export function startSipp(options: SippOptions): SippProcess {
  const sipp = options.sippPath ?? 'sipp';
  let command = sipp;
  let args = sippArgs(options);
  if (options.timeoutSec !== undefined) {
    args = ['--kill-after=5', `${options.timeoutSec}s`, sipp, ...args];
    command = 'timeout';
  }
  const spawnOptions: SpawnOptions = { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] };
  const child = options.netns ? options.netns.spawn(command, args, spawnOptions) : spawn(command, args, spawnOptions);
  return new SippProcess(child, options);
}

/** Runs SIPp to completion; give `calls` and `timeoutSec` so it ends on its own. */
export function runSipp(options: SippOptions): Promise<SippResult> {
  return startSipp(options).result;
}
