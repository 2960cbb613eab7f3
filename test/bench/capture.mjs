// Post-dial delay from the wire: tcpdump on the loopback interface captures the INVITEs and the
// 200 OKs of a B2BUA bench step (kernel BPF filter: only datagrams whose payload starts with
// "INVITE" or "SIP/2.0 200 ", only on the three SIP ports), and this module pairs them per call.
//
//   gateway-added PDD = (200 to the uac leaves the system under test − INVITE from the uac reaches it)
//                     − (200 from the uas reaches the system under test − INVITE to the uas leaves it)
//
// i.e. the caller's INVITE->200 time minus the time the callee took to answer, both taken from
// kernel capture timestamps (microseconds) on the same interface, so neither SIPp's scheduler
// (about 1 ms ticks) nor the callee's ring time is counted. A and B legs are told apart by ports; calls are
// paired by the From display name "c<call number>" that the uac sets and that both the B2BUA and a
// proxy pass on.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { findExecutable, sleep, spawnManaged, waitFor } from './processes.mjs';

export function tcpdumpPath() {
  return findExecutable('tcpdump');
}

/**
 * Starts tcpdump writing to `file`; resolves once it is listening. `ports` = { uac, sut, uas }.
 * Returns { proc, pid, stop() -> { captured, droppedByKernel } } or undefined without tcpdump.
 */
export async function startCapture({ file, ports, snaplen = 1024, logFile }) {
  const tcpdump = tcpdumpPath();
  if (!tcpdump) return undefined;
  const portExpr = [...new Set([ports.uac, ports.sut, ports.uas])].map((p) => `udp port ${p}`).join(' or ');
  // "INVI" or "SIP/" + "2.0 " + "200 " at the start of the UDP payload (offset 8 in the UDP header)
  const filter = `(${portExpr}) and (udp[8:4] = 0x494e5649 or (udp[8:4] = 0x5349502f and udp[12:4] = 0x322e3020 and udp[16:4] = 0x32303020))`;
  const args = ['-i', 'lo', '-n', '-p', '-s', String(snaplen), '-B', '32768', '-Z', 'root', '-w', file, filter];
  const proc = spawnManaged('tcpdump', tcpdump, args, { logFile });
  await waitFor(
    () => {
      if (!proc.running) throw new Error(`tcpdump exited: ${proc.tail().slice(-500)}`);
      return /listening on/.test(proc.tail());
    },
    { timeoutMs: 5000, intervalMs: 50, what: 'tcpdump to listen' },
  );
  return {
    proc,
    pid: proc.pid,
    commandLine: `tcpdump ${args.map((a) => (/\s/.test(a) ? `'${a}'` : a)).join(' ')}`,
    async stop() {
      // libpcap hands tcpdump the kernel's capture blocks when they fill or after its 1 s read
      // timeout; a SIGTERM before that loses the last block (the last calls of the step).
      await sleep(1200);
      await proc.stop(3000);
      const tail = proc.tail();
      const num = (re) => Number(re.exec(tail)?.[1] ?? NaN);
      return {
        captured: num(/(\d+) packets? captured/),
        droppedByKernel: num(/(\d+) packets? dropped by kernel/),
        bytes: existsSync(file) ? statSync(file).size : 0,
      };
    },
  };
}

/** Datagrams of a classic pcap file (DLT_EN10MB, as Linux `lo` gives): { t (s), src, dst, payload }. */
export function* readPcap(file) {
  const buf = readFileSync(file);
  if (buf.length < 24) return;
  const magic = buf.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const nano = magic === 0xa1b23c4d || magic === 0x4d3cb2a1;
  const u32 = (o) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const linkType = u32(20);
  let off = 24;
  while (off + 16 <= buf.length) {
    const sec = u32(off);
    const frac = u32(off + 4);
    const incl = u32(off + 8);
    const start = off + 16;
    off = start + incl;
    if (off > buf.length) break;
    let ip = start;
    if (linkType === 1) ip += 14; // Ethernet (loopback on Linux)
    else if (linkType === 113) ip += 16; // Linux cooked
    else if (linkType === 0) ip += 4; // BSD loopback
    if ((buf[ip] >> 4) !== 4) continue; // IPv4 only: everything here is on 127.0.0.1
    const ihl = (buf[ip] & 0x0f) * 4;
    if (buf[ip + 9] !== 17) continue;
    const udp = ip + ihl;
    yield {
      t: sec + frac / (nano ? 1e9 : 1e6),
      src: buf.readUInt16BE(udp),
      dst: buf.readUInt16BE(udp + 2),
      payload: buf.toString('latin1', udp + 8, off),
    };
  }
}

function header(text, names) {
  for (const name of names) {
    const m = new RegExp(`^${name}[ \\t]*:[ \\t]*(.*)$`, 'im').exec(text);
    if (m) return m[1].trim();
  }
  return undefined;
}

const percentile = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] : undefined);
const ms = (x) => (x === undefined ? undefined : Number((x * 1000).toFixed(3)));

/** Distribution summary in ms: n, p50, p90, p99, max, mean. */
export function summarize(values) {
  const sorted = [...values].sort((a, b) => a - b);
  if (!sorted.length) return { n: 0 };
  return {
    n: sorted.length,
    p50: ms(percentile(sorted, 50)),
    p90: ms(percentile(sorted, 90)),
    p99: ms(percentile(sorted, 99)),
    max: ms(sorted[sorted.length - 1]),
    mean: ms(sorted.reduce((a, b) => a + b, 0) / sorted.length),
  };
}

/**
 * Pairs the captured INVITE/200 datagrams per call and returns the PDD summaries (ms):
 *   pdd        the delay the system under test added (formula at the top of this file)
 *   inviteLeg  INVITE from the uac reaches it -> INVITE to the uas leaves it (incl. the rtpengine offer)
 *   answerLeg  200 from the uas reaches it -> 200 to the uac leaves it (incl. the rtpengine answer)
 *   callee     the uas's own INVITE->200 time (subtracted)
 * plus counts: calls seen, complete (all four datagrams), unparsed datagrams.
 */
export function pddFromCapture(file, ports) {
  const calls = new Map(); // call number -> { aInv, bInv, b200, a200 }
  const byCallId = new Map(); // `${leg}|${Call-ID}` -> call number
  let unparsed = 0;
  let datagrams = 0;
  const entry = (n) => {
    let e = calls.get(n);
    if (!e) calls.set(n, (e = {}));
    return e;
  };
  for (const d of readPcap(file)) {
    datagrams += 1;
    const leg = d.src === ports.uac || d.dst === ports.uac ? 'A' : d.src === ports.uas || d.dst === ports.uas ? 'B' : undefined;
    const callId = header(d.payload, ['Call-ID', 'i']);
    if (!leg || !callId) {
      unparsed += 1;
      continue;
    }
    if (d.payload.startsWith('INVITE ')) {
      const n = /"c(\d+)"/.exec(header(d.payload, ['From', 'f']) ?? '')?.[1];
      if (n === undefined) {
        unparsed += 1;
        continue;
      }
      byCallId.set(`${leg}|${callId}`, n);
      const e = entry(n);
      if (leg === 'A' && d.dst === ports.sut) e.aInv ??= d.t;
      if (leg === 'B' && d.src === ports.sut) e.bInv ??= d.t;
    } else {
      const cseq = header(d.payload, ['CSeq']) ?? '';
      if (!/\bINVITE\b/i.test(cseq)) continue; // the 200 to a BYE
      const n = byCallId.get(`${leg}|${callId}`);
      if (n === undefined) {
        unparsed += 1;
        continue;
      }
      const e = entry(n);
      if (leg === 'B' && d.dst === ports.sut) e.b200 ??= d.t;
      if (leg === 'A' && d.src === ports.sut) e.a200 ??= d.t;
    }
  }
  const pdd = [];
  const inviteLeg = [];
  const answerLeg = [];
  const callee = [];
  for (const e of calls.values()) {
    if (e.aInv === undefined || e.bInv === undefined || e.b200 === undefined || e.a200 === undefined) continue;
    pdd.push(e.a200 - e.aInv - (e.b200 - e.bInv));
    inviteLeg.push(e.bInv - e.aInv);
    answerLeg.push(e.a200 - e.b200);
    callee.push(e.b200 - e.bInv);
  }
  return {
    datagrams,
    calls: calls.size,
    complete: pdd.length,
    unparsed,
    pdd: summarize(pdd),
    inviteLeg: summarize(inviteLeg),
    answerLeg: summarize(answerLeg),
    callee: summarize(callee),
  };
}
