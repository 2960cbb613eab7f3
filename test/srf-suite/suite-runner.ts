/**
 * Runs drachtio-srf's own integration tests (the files in node_modules/drachtio-srf/test,
 * unchanged) against our engine, in one network namespace that re-creates their docker testbed:
 *
 *   namespace lo: 127.0.0.1 + every testbed address (172.29.0.x/32), hosts file with every container name
 *   engine #1 = drachtio-sut (SIP on 172.29.0.10:5060, admin 127.0.0.1:9061)
 *   engine #2 = drachtio-uas (SIP on 172.29.0.19:5060, admin 127.0.0.1:9062)
 *   one sipp per long-running sipp container of the compose file, on its address, port 5060
 *   node -e "require(b2b); require(reinvite-tests); ..."  with PATH=<shim dir>:$PATH, where
 *   `docker` runs the local sipp (docker-shim.mjs) and `docker-compose` does nothing.
 */
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findExecutable, OutputCapture, stopChild, waitForExit } from '../harness/child-processes.js';
import { EngineProcess } from '../harness/engine.js';
import { NetworkNamespace } from '../harness/netns.js';
import { PortSequence } from '../harness/ports.js';
import { startSipp, type SippProcess } from '../harness/sipp.js';
import { scenarioPathForLocalSipp } from './scenario-compat.mjs';
import { loadSrfTestbed, type SrfTestbed } from './testbed-topology.js';
import { parseTap, tapIsFinished, type TapSummary } from './tap-summary.js';
import { SUITE_FILES, tapProblems, type SuiteFile } from './suite-verdict.js';

export interface SrfSuiteOptions {
  /** Run only these files (in suite order); all six by default. Only a full run is checked against the 50 assertions. */
  files?: readonly SuiteFile[];
  /** Kill tape after this long (default 8 min: the files' own timeouts add up to 7 min 20 s). */
  tapeTimeoutMs?: number;
  engineLogLevel?: string;
  /** Called with each line tape prints, as it prints it. */
  onTapeLine?: (line: string) => void;
  srfDir?: string;
}

export interface EngineRecord {
  label: string;
  crashReason: string | undefined;
  logTail: string;
  logFile: string;
}

export interface SippUasRecord {
  containerName: string;
  address: string;
  listening: boolean;
  /** Set when it exited before teardown. */
  earlyExit: string | undefined;
  outputTail: string;
  logFile: string;
}

export interface SrfSuiteRun {
  workDir: string;
  namespace: string;
  files: readonly SuiteFile[];
  tapeOutput: string;
  tap: TapSummary;
  /** lingered: tape had printed its summary but did not exit by itself, so it was stopped. */
  tapeExit: { code: number | null; signal: NodeJS.Signals | null; timedOut: boolean; lingered: boolean } | undefined;
  engines: EngineRecord[];
  sippUases: SippUasRecord[];
  /** One per `docker run` the suite made: the log file's name and its content. */
  shimRuns: { file: string; text: string }[];
  setupError: string | undefined;
  durationMs: number;
}

const SHIM_SCRIPT = fileURLToPath(new URL('./docker-shim.mjs', import.meta.url));
const UAS_SIP_PORT = 5060;

export interface WorkDirs {
  root: string;
  bin: string;
  slots: string;
  shimLogs: string;
  sippCwd: string;
}

export function createWorkDirs(): WorkDirs {
  const root = mkdtempSync(join(tmpdir(), 'srf-suite-'));
  const dirs = {
    root,
    bin: join(root, 'bin'),
    slots: join(root, 'shim-slots'),
    shimLogs: join(root, 'docker-runs'),
    sippCwd: join(root, 'sipp-cwd'),
  };
  for (const dir of Object.values(dirs)) mkdirSync(dir, { recursive: true });
  return dirs;
}

/** Writes `docker` (→ docker-shim.mjs with its config) and a no-op `docker-compose` into dirs.bin. */
export function writeDockerShims(dirs: WorkDirs, testbed: SrfTestbed, sippPath: string): void {
  const configFile = join(dirs.root, 'docker-shim.json');
  const config = {
    sippPath,
    workDir: dirs.sippCwd,
    slotDir: dirs.slots,
    logDir: dirs.shimLogs,
    // longest legitimate UAC run: uac-drop-all-200 waits out the 32 s ACK timeout
    timeoutSec: 75,
    containerAddresses: testbed.hosts,
    uacAddresses: testbed.uacAddresses,
    controlPortBase: 9100,
    mediaPortBase: 30000,
  };
  writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`);
  const quote = (text: string): string => `'${text.replace(/'/g, `'\\''`)}'`;
  const docker = join(dirs.bin, 'docker');
  writeFileSync(
    docker,
    `#!/bin/sh\nSRF_DOCKER_SHIM_CONFIG=${quote(configFile)} exec ${quote(process.execPath)} ${quote(SHIM_SCRIPT)} "$@"\n`,
  );
  const compose = join(dirs.bin, 'docker-compose');
  writeFileSync(compose, '#!/bin/sh\n# the testbed is already up: suite-runner.ts started it in a network namespace\nexit 0\n');
  chmodSync(docker, 0o755);
  chmodSync(compose, 0o755);
}

/** Why the suite's own requires (tape, config, debug) would fail from its test directory, if they would. */
function unresolvableTestDependencies(testbed: SrfTestbed): string | undefined {
  const requireFromTests = createRequire(join(testbed.testDir, 'index.js'));
  const missing = ['tape', 'config', 'debug'].filter((name) => {
    try {
      requireFromTests.resolve(name);
      return false;
    } catch {
      return true;
    }
  });
  return missing.length > 0
    ? `${missing.join(', ')} do not resolve from ${testbed.testDir}; they are devDependencies of test/package.json — run npm install`
    : undefined;
}

export interface RunningUas {
  role: SrfTestbed['sippUases'][number];
  logFile: string;
  sipp: SippProcess;
}

export function startSippUases(testbed: SrfTestbed, netns: NetworkNamespace, dirs: WorkDirs, sippPath: string): RunningUas[] {
  const controlPorts = new PortSequence(8800, 8999);
  const mediaPorts = new PortSequence(20000, 29996, 4);
  return testbed.sippUases.map((role) => {
    const logFile = join(dirs.root, `uas-${role.containerName}.log`);
    const sipp = startSipp({
      scenario: { file: scenarioPathForLocalSipp(role.scenarioFile, join(dirs.sippCwd, 'scenarios-adapted')) },
      localIp: role.address,
      localPort: UAS_SIP_PORT,
      controlPort: controlPorts.take(),
      mediaPort: mediaPorts.take(),
      extraArgs: role.otherArgs,
      netns,
      cwd: dirs.sippCwd,
      logFile,
      sippPath,
    });
    return { role, logFile, sipp };
  });
}

/** Polls `ss` in the namespace until every address:port is bound (or the deadline passes); returns the bound set. */
export async function waitForUdpListeners(netns: NetworkNamespace, wanted: readonly string[], timeoutMs: number): Promise<Set<string>> {
  const deadline = Date.now() + timeoutMs;
  let bound = await netns.listeningSockets('udp');
  while (wanted.some((socket) => !bound.has(socket)) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    bound = await netns.listeningSockets('udp');
  }
  return bound;
}

interface TapeOutcome {
  output: string;
  exit: NonNullable<SrfSuiteRun['tapeExit']>;
}

/** Runs the suite files in one tape process inside the namespace; kills it on timeout or when it lingers after its summary. */
async function runTape(
  testbed: SrfTestbed,
  netns: NetworkNamespace,
  dirs: WorkDirs,
  files: readonly SuiteFile[],
  options: SrfSuiteOptions,
): Promise<TapeOutcome> {
  const requires = files.map((file) => `require(${JSON.stringify(join(testbed.testDir, `${file}.js`))});`).join('');
  const env = {
    ...process.env,
    NODE_ENV: 'test',
    NODE_CONFIG_DIR: testbed.configDir,
    PATH: `${dirs.bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
  };
  const child = netns.spawn(process.execPath, ['-e', requires], { cwd: testbed.srfDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const capture = new OutputCapture(20_000_000, join(dirs.root, 'tape.log'));
  capture.attach(child);
  let pending = '';
  const onData = (chunk: Buffer): void => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) options.onTapeLine?.(line);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);

  let timedOut = false;
  let lingered = false;
  const hardTimeout = setTimeout(() => {
    timedOut = true;
    void stopChild(child, 3000);
  }, options.tapeTimeoutMs ?? 480_000);
  // tape has printed its summary but something (a socket, a timer) keeps the process alive
  const lingerCheck = setInterval(() => {
    if (tapIsFinished(capture.output)) {
      clearInterval(lingerCheck);
      setTimeout(() => {
        lingered = child.exitCode === null && child.signalCode === null;
        void stopChild(child, 3000);
      }, 5000).unref();
    }
  }, 1000);
  const { code, signal } = await waitForExit(child);
  clearTimeout(hardTimeout);
  clearInterval(lingerCheck);
  if (pending) options.onTapeLine?.(pending);
  await capture.close();
  return { output: capture.output, exit: { code, signal, timedOut, lingered } };
}

function readShimRuns(dirs: WorkDirs): SrfSuiteRun['shimRuns'] {
  return readdirSync(dirs.shimLogs)
    .sort()
    .map((file) => ({ file, text: readFileSync(join(dirs.shimLogs, file), 'utf8') }));
}

/** Sets up the testbed, runs the suite, tears everything down (the work directory with all logs stays). */
export async function runSrfSuite(options: SrfSuiteOptions = {}): Promise<SrfSuiteRun> {
  const started = Date.now();
  const files = options.files ?? SUITE_FILES;
  const testbed = loadSrfTestbed(options.srfDir);
  const dirs = createWorkDirs();
  const run: SrfSuiteRun = {
    workDir: dirs.root,
    namespace: '',
    files,
    tapeOutput: '',
    tap: parseTap(''),
    tapeExit: undefined,
    engines: [],
    sippUases: [],
    shimRuns: [],
    setupError: undefined,
    durationMs: 0,
  };
  const sippPath = findExecutable('sipp');
  run.setupError = sippPath ? unresolvableTestDependencies(testbed) : 'sipp is not installed (run: bash scripts/setup.sh)';
  if (run.setupError || !sippPath) return { ...run, durationMs: Date.now() - started };

  writeDockerShims(dirs, testbed, sippPath);
  const netns = await NetworkNamespace.create({ addresses: testbed.addresses, hosts: testbed.hosts });
  run.namespace = netns.name;
  const engines: EngineProcess[] = [];
  let uases: RunningUas[] = [];
  try {
    for (const role of testbed.engines) {
      engines.push(
        await EngineProcess.start({
          contact: `sip:${role.address};transport=udp`,
          adminAddress: '127.0.0.1',
          adminPort: role.adminPort,
          secret: role.secret,
          loglevel: options.engineLogLevel ?? 'info',
          netns,
          label: role.containerName,
          logFile: join(dirs.root, `engine-${role.containerName}.log`),
        }),
      );
    }
    uases = startSippUases(testbed, netns, dirs, sippPath);
    const wanted = uases.map(({ role }) => `${role.address}:${UAS_SIP_PORT}`);
    const bound = await waitForUdpListeners(netns, wanted, 5000);
    run.sippUases = uases.map(({ role, logFile }) => ({
      containerName: role.containerName,
      address: role.address,
      listening: bound.has(`${role.address}:${UAS_SIP_PORT}`),
      earlyExit: undefined,
      outputTail: '',
      logFile,
    }));
    const tape = await runTape(testbed, netns, dirs, files, options);
    run.tapeOutput = tape.output;
    run.tapeExit = tape.exit;
    run.tap = parseTap(tape.output);
  } catch (error) {
    run.setupError = (error as Error).message;
  } finally {
    await collectAndStop(run, uases, engines);
    await netns.destroy();
    run.shimRuns = readShimRuns(dirs);
    run.durationMs = Date.now() - started;
  }
  return run;
}

async function collectAndStop(
  run: SrfSuiteRun,
  uases: readonly RunningUas[],
  engines: EngineProcess[],
): Promise<void> {
  await Promise.all(
    uases.map(async ({ role, sipp }, index) => {
      const exitedEarly = !sipp.running;
      const result = await sipp.stop(2000);
      const record = run.sippUases[index];
      if (!record) return;
      record.outputTail = result.output.split('\n').slice(-80).join('\n');
      if (exitedEarly) record.earlyExit = `${role.containerName} exited during the run (code ${result.exitCode}, signal ${result.signal})`;
    }),
  );
  for (const engine of engines) {
    const crashReason = engine.crashReason();
    await engine.stop();
    run.engines.push({
      label: engine.label,
      crashReason,
      logTail: engine.tail(400),
      logFile: engine.options.logFile ?? '',
    });
  }
}

/** Everything wrong with a run; empty when it passed. */
export function suiteProblems(run: SrfSuiteRun): string[] {
  const problems: string[] = [];
  if (run.setupError) problems.push(`setup failed: ${run.setupError}`);
  for (const uas of run.sippUases) {
    if (!uas.listening) problems.push(`sipp UAS ${uas.containerName} never listened on ${uas.address}:${UAS_SIP_PORT}`);
    if (uas.earlyExit) problems.push(uas.earlyExit);
  }
  for (const engine of run.engines) if (engine.crashReason) problems.push(engine.crashReason);
  if (run.tapeExit?.timedOut) problems.push('tape was killed: it did not finish within its time limit');
  if (run.setupError) return problems;
  if (run.files.length === SUITE_FILES.length) {
    problems.push(...tapProblems(run.tap));
  } else {
    if (!run.tap.complete) problems.push('the TAP output is incomplete');
    if (run.tap.failed > 0) problems.push(`${run.tap.failed} assertions failed`);
  }
  const tapeExit = run.tapeExit;
  if (tapeExit && tapeExit.code !== 0 && !tapeExit.timedOut && !tapeExit.lingered && problems.length === 0) {
    problems.push(`tape exited with code ${tapeExit.code ?? tapeExit.signal}`);
  }
  return problems;
}

/** Deletes the run's work directory (logs, shims); call when nobody needs to look at them. */
export function discardWorkDir(run: SrfSuiteRun): void {
  rmSync(run.workDir, { recursive: true, force: true });
}
