/**
 * Runs drachtio-srf's SIPp scenarios (node_modules/drachtio-srf/test/scenarios) with Debian's
 * SIPp 3.6.1 against an in-process engine, and reads back what crossed the wire:
 *   - SIPp's own message trace (-trace_msg): every message SIPp sent and received, in order, with
 *     SIPp's timestamps, including the ones a scenario's `lost="N"` made it ignore;
 *   - a tap on the engine's transport layer: every message the engine sent, with its destination.
 *
 * Every SIPp gets its own -p, -cp and -mp (SIPp binds -mp and -mp+2, and 0.0.0.0:8888 for -cp by
 * default), runs on 127.0.0.1 only, with -nostdin, -m 1 and coreutils `timeout` as a guard
 * (recipes §2). SIPp runs with cwd = the scenario directory so that `play_pcap_audio="pcap/..."`
 * resolves to the suite's own pcap folder; a scenario SIPp 3.6.1 cannot parse as it is gets the
 * adapted copy from ../srf-suite/scenario-compat.mjs in a temporary directory. SIPp's trace files
 * go to a temporary directory that is removed afterwards (SRF_SCENARIO_KEEP=1 keeps it).
 */
import dgram from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageDir } from '../harness/repo-paths';
import { startSipp, type SippProcess, type SippResult } from '../harness/sipp';
import { scenarioPathForLocalSipp } from '../srf-suite/scenario-compat.mjs';
import type { Engine } from '../../gateway/src/engine/core/engine';

export const SCENARIO_DIR = join(packageDir('drachtio-srf'), 'test', 'scenarios');

// ---- ports ---------------------------------------------------------------------------------------

function canBindUdp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.once('error', () => {
      s.close();
      resolve(false);
    });
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

const taken = new Set<number>();

/**
 * `span` consecutive UDP ports, all free right now, starting at a multiple of 4 below the kernel's
 * ephemeral range (so the engine's own ephemeral ports never land there), never handed out twice
 * in this process.
 */
async function freeUdpPorts(span: number): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20_000 + 4 * Math.floor(Math.random() * 2_500);
    const range = Array.from({ length: span }, (_, i) => base + i);
    if (range.some((p) => taken.has(p))) continue;
    const free = await Promise.all(range.map(canBindUdp));
    if (free.every(Boolean)) {
      range.forEach((p) => taken.add(p));
      return base;
    }
  }
  throw new Error('no free UDP ports found');
}

export interface SippPorts {
  sip: number;
  control: number;
  /** SIPp binds media and media+2; [auto_media_port] stays in that block for call 1. */
  media: number;
}

export async function sippPorts(): Promise<SippPorts> {
  return { sip: await freeUdpPorts(1), control: await freeUdpPorts(1), media: await freeUdpPorts(4) };
}

/** Resolves once something is bound to 127.0.0.1:port (or 0.0.0.0:port) over UDP (/proc/net/udp). */
export async function waitUdpBound(port: number, timeoutMs = 5000): Promise<void> {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const table = readFileSync('/proc/net/udp', 'latin1');
    if (table.split('\n').some((l) => new RegExp(`^\\s*\\d+: (?:0100007F|00000000):${hexPort} `).test(l))) return;
    if (Date.now() > deadline) throw new Error(`nothing bound to UDP port ${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// ---- SIPp's message trace ------------------------------------------------------------------------

export interface TracedMessage {
  /** As seen by SIPp: 'sent' went to the engine, 'received' came from it. */
  dir: 'sent' | 'received';
  /** SIPp's clock, ms since the epoch (microsecond resolution). */
  at: number;
  text: string;
  /** SIPp received it but a `lost="N"` attribute made the scenario ignore it. */
  lost: boolean;
}

// Each entry starts with 47 dashes and a timestamp. SIPp writes its "UDP message lost (recv)."
// note with no line break of its own, so it ends the entry of the message it ignored and the
// next entry's dashes follow on the same line.
const ENTRY = /-{47} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\r?\n/;
const LOST_NOTE = /\w+ message (?:\(retrans\) )?lost \(recv\)\.\s*$/;

/** Parses a SIPp 3.6.1 -message_file into the messages it logged, in order. */
export function parseMessageTrace(log: string): TracedMessage[] {
  const parts = log.split(ENTRY);
  const out: TracedMessage[] = [];
  for (let i = 1; i + 1 < parts.length; i += 2) {
    const [date, time] = parts[i].split(' ');
    const [hms, frac] = time.split('.');
    const at = new Date(`${date}T${hms}`).getTime() + Number(`0.${frac}`) * 1000;
    const body = parts[i + 1];
    const head = /^(\w+) message (sent|received)[^\n]*\n\r?\n/.exec(body);
    if (!head) continue;
    out.push({
      dir: head[2] === 'sent' ? 'sent' : 'received',
      at,
      text: normalize(body.slice(head[0].length).replace(LOST_NOTE, '')),
      lost: LOST_NOTE.test(body),
    });
  }
  return out;
}

/** SIPp logs a message as it was on the wire plus a trailing newline; give it CRLFs and drop that. */
function normalize(text: string): string {
  const crlf = text.replace(/\r?\n/g, '\r\n');
  const end = crlf.indexOf('\r\n\r\n');
  if (end < 0) return crlf.trimEnd();
  const cl = /\r\n(?:content-length|l)\s*:\s*(\d+)/i.exec(crlf.slice(0, end));
  return crlf.slice(0, end + 4 + (cl ? Number(cl[1]) : 0));
}

// ---- the engine's outbound wire ------------------------------------------------------------------

export interface EngineSent {
  at: number;
  text: string;
  protocol: string;
  address: string;
  port: number;
}

/** Records every message the engine hands to its transport layer from now on. */
export function tapEngineSends(engine: Engine): EngineSent[] {
  const sent: EngineSent[] = [];
  const layer = engine.transportLayer;
  const original = layer.send.bind(layer);
  layer.send = (data, target) => {
    sent.push({
      at: Date.now(),
      text: data.toString('latin1'),
      protocol: target.connection?.protocol ?? target.protocol,
      address: target.connection?.remoteAddress ?? target.address,
      port: target.connection?.remotePort ?? target.port,
    });
    return original(data, target);
  };
  return sent;
}

// ---- running a scenario --------------------------------------------------------------------------

export interface ScenarioOptions {
  /** File name in SCENARIO_DIR, e.g. 'uac-drop-one-200.xml'. */
  scenario: string;
  ports: SippPorts;
  /** host:port of the engine for a UAC scenario; omit for a UAS scenario. */
  target?: string;
  /** -s: the user part SIPp puts in [service]. */
  service?: string;
  /** The `timeout` guard, seconds. */
  timeoutSec: number;
  extraArgs?: readonly string[];
}

export interface ScenarioRun {
  result: SippResult;
  messages: TracedMessage[];
  /** -trace_screen: SIPp's final statistics screen (per-message counters). */
  screen: string;
  /** -trace_err: SIPp's warnings and errors. */
  errors: string;
}

export interface ScenarioProcess {
  sipp: SippProcess;
  done: Promise<ScenarioRun>;
}

/** Starts SIPp on one scenario (one call, -m 1) and returns at once. */
export function startScenario(opts: ScenarioOptions): ScenarioProcess {
  const workDir = mkdtempSync(join(tmpdir(), 'srf-scenario-'));
  const file = scenarioPathForLocalSipp(join(SCENARIO_DIR, opts.scenario), workDir);
  const messageFile = join(workDir, 'messages.log');
  const screenFile = join(workDir, 'screen.log');
  const errorFile = join(workDir, 'errors.log');
  const sipp = startSipp({
    scenario: { file },
    target: opts.target,
    localIp: '127.0.0.1',
    localPort: opts.ports.sip,
    mediaPort: opts.ports.media,
    controlPort: opts.ports.control,
    calls: 1,
    timeoutSec: opts.timeoutSec,
    cwd: SCENARIO_DIR,
    extraArgs: [
      ...(opts.service !== undefined ? ['-s', opts.service] : []),
      '-trace_msg', '-message_file', messageFile,
      '-trace_screen', '-screen_file', screenFile,
      '-trace_err', '-error_file', errorFile,
      ...(opts.extraArgs ?? []),
    ],
  });
  const read = (f: string): string => (existsSync(f) ? readFileSync(f, 'latin1') : '');
  const done = sipp.result.then((result) => {
    const run: ScenarioRun = { result, messages: parseMessageTrace(read(messageFile)), screen: read(screenFile), errors: read(errorFile) };
    if (process.env.SRF_SCENARIO_KEEP) run.errors += `\n(trace files kept in ${workDir})`;
    else rmSync(workDir, { recursive: true, force: true });
    return run;
  });
  return { sipp, done };
}

/** One line that explains a SIPp run when an assertion on it fails. */
export function describeRun(run: ScenarioRun): string {
  const flow = run.messages
    .map((m) => `${m.dir === 'sent' ? '->' : '<-'} ${m.text.split('\r\n')[0]}${m.lost ? ' (lost)' : ''}`)
    .join('\n');
  return `sipp exit ${run.result.exitCode}${run.result.timedOut ? ' (timeout)' : ''}\n${flow}\n${run.errors}\n${run.result.output.slice(-2000)}`;
}

// ---- what the app was told -----------------------------------------------------------------------

export interface AppSip {
  /** 'network' for requests/responses from the wire, 'application' for the engine's own (§5.2). */
  source: string;
  transactionId: string;
  dialogId: string;
  text: string;
}

/**
 * Records every `sip` message the engine delivers to a connected srf app (drachtio-protocol §5),
 * read off srf's own wire-protocol reader, before srf dispatches it. This counts what reached the
 * app independently of srf's Dialog events (srf emits 'ack' on setImmediate but drops a Dialog's
 * listeners synchronously on BYE, so an ACK and a BYE read together lose the 'ack').
 */
export function tapAppSip(srf: unknown): AppSip[] {
  const wp = (srf as { _app: { client: { wp: NodeJS.EventEmitter } } })._app.client.wp;
  const got: AppSip[] = [];
  wp.on('msg', (_socket: unknown, msg: string) => {
    const pos = msg.indexOf('\r\n');
    const token = msg.slice(0, pos).split('|');
    if (token[1] !== 'sip') return;
    got.push({ source: token[2], transactionId: token[8] ?? '', dialogId: token[9] ?? '', text: msg.slice(pos + 2) });
  });
  return got;
}
