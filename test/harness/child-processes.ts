/**
 * Child processes for integration tests: run-to-completion commands with captured output, output
 * capture for long-running processes (bounded in memory, complete in an optional log file), and
 * a graceful stop (SIGTERM, then SIGKILL).
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { accessSync, constants, createWriteStream, statSync, type WriteStream } from 'node:fs';
import { delimiter, join } from 'node:path';

export interface CommandResult {
  /** Exit code, or null when the process was killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion and resolves with its exit status and output (never rejects on a non-zero exit). */
export function runCommand(
  command: string,
  args: readonly string[],
  options: SpawnOptions & { input?: string } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const { input, ...spawnOptions } = options;
    const child = spawn(command, args, { ...spawnOptions, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    if (input !== undefined && child.stdin) {
      child.stdin.on('error', () => {
        // the command exited without reading all of its input; its exit status tells the story
      });
      child.stdin.end(input);
    }
  });
}

/** Like runCommand but rejects with the command line and its stderr when the exit code is not 0. */
export async function runCommandOrThrow(
  command: string,
  args: readonly string[],
  options: SpawnOptions & { input?: string } = {},
): Promise<CommandResult> {
  const result = await runCommand(command, args, options);
  if (result.code !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} failed (exit ${result.code ?? result.signal}): ${result.stderr.trim() || result.stdout.trim()}`,
    );
  }
  return result;
}

/**
 * Collects a child's stdout and stderr interleaved, in arrival order. Memory keeps the last
 * `maxChars` characters; the optional log file keeps everything.
 */
export class OutputCapture {
  private text = '';
  private droppedChars = 0;
  private readonly logStream: WriteStream | undefined;

  constructor(
    private readonly maxChars = 2_000_000,
    logFile?: string,
  ) {
    this.logStream = logFile ? createWriteStream(logFile, { flags: 'a' }) : undefined;
  }

  attach(child: ChildProcess): void {
    child.stdout?.on('data', (chunk: Buffer) => this.append(chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => this.append(chunk.toString()));
  }

  append(chunk: string): void {
    this.logStream?.write(chunk);
    this.text += chunk;
    if (this.text.length > this.maxChars) {
      const excess = this.text.length - this.maxChars;
      this.text = this.text.slice(excess);
      this.droppedChars += excess;
    }
  }

  /** Everything kept in memory, with a marker when older output was dropped. */
  get output(): string {
    return this.droppedChars > 0 ? `[... ${this.droppedChars} earlier characters dropped ...]\n${this.text}` : this.text;
  }

  /** The last `lines` lines of output. */
  tail(lines: number): string {
    const all = this.text.split('\n');
    return all.slice(Math.max(0, all.length - lines - 1)).join('\n');
  }

  close(): Promise<void> {
    const stream = this.logStream;
    if (!stream) return Promise.resolve();
    return new Promise((resolve) => stream.end(resolve));
  }
}

/** Resolves when the child has exited (at once when it already has). */
export function waitForExit(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** Sends SIGTERM, then SIGKILL after `graceMs`; resolves once the child has exited. */
export async function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = waitForExit(child);
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}

/** True when a process with this pid exists (signal 0 probe). */
export function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Absolute path of an executable found on PATH (plus the sbin directories), or undefined. */
export function findExecutable(name: string, searchPath: string = process.env.PATH ?? ''): string | undefined {
  const directories = [...searchPath.split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'].filter(Boolean);
  for (const directory of directories) {
    const candidate = join(directory, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}
