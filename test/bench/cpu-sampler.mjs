// CPU and memory of processes from /proc: utime+stime ticks (/proc/PID/stat), VmHWM/VmRSS
// (/proc/PID/status). A Sampler polls a set of pids during a bench step so processes that exit
// before the step ends (sipp) are still measured up to their last sample.
import { readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

let clkTck = 100;
try {
  clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  // Linux default
}

/** utime+stime of pid in seconds, or undefined when it is gone. */
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields[0] is field 3 (state)
    return (Number(fields[11]) + Number(fields[12])) / clkTck; // fields 14 utime, 15 stime
  } catch {
    return undefined;
  }
}

/**
 * Cumulative CPU pressure stall time in seconds (/proc/pressure/cpu, "some" line): time during
 * which at least one runnable task waited for a CPU. Undefined without PSI.
 */
export function cpuPressureSeconds() {
  try {
    const m = /^some .*total=(\d+)/m.exec(readFileSync('/proc/pressure/cpu', 'utf8'));
    return m ? Number(m[1]) / 1e6 : undefined;
  } catch {
    return undefined;
  }
}

/** { hwmKiB, rssKiB } of pid, or undefined when it is gone. */
export function memory(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
    return { hwmKiB: kib('VmHWM'), rssKiB: kib('VmRSS') };
  } catch {
    return undefined;
  }
}

/** Resets VmHWM to the current RSS (writing 5 to clear_refs; needs the same uid or root). */
export function resetPeakRss(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** pid and all its descendants (e.g. Kamailio's main process and its workers). */
export function processTree(pid) {
  const out = [];
  const queue = [pid];
  while (queue.length && out.length < 512) {
    const p = queue.shift();
    out.push(p);
    queue.push(...childPids(p));
  }
  return out;
}

/** Proportional set size of pid in KiB (/proc/PID/smaps_rollup): shared pages split between sharers. */
export function pssKiB(pid) {
  try {
    const m = /^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Direct children of pid (e.g. sipp under `timeout`). */
export function childPids(pid) {
  const out = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (text) out.push(...text.split(/\s+/).map(Number));
    }
  } catch {
    // gone
  }
  return out;
}

/**
 * Samples named processes every intervalMs. `track(name, pidOrResolver)` accepts a function
 * returning the pid (resolved on each tick, e.g. the sipp child of `timeout`).
 * stop() returns, per name: cpuPercent (of one core, over the step), cpuSeconds, peakRssMiB.
 */
export class Sampler {
  constructor(intervalMs = 250) {
    this.intervalMs = intervalMs;
    this.targets = new Map();
    this.timer = undefined;
    this.startedAt = 0;
  }

  /**
   * fromZero: the process starts with the step, so count its CPU from 0 at start().
   * tree: count the process and all its descendants (CPU summed; memory = summed PSS, so the
   * shared memory of a multi-process server like Kamailio is counted once).
   */
  track(name, pid, { resetPeak = false, fromZero = false, tree = false } = {}) {
    const resolve = typeof pid === 'function' ? pid : () => pid;
    const entry = { resolve, fromZero, tree, first: undefined, last: undefined, firstAt: 0, lastAt: 0, peakKiB: 0, peakWasReset: false };
    const p = resolve();
    if (resetPeak && p) entry.peakWasReset = resetPeakRss(p);
    this.targets.set(name, entry);
    return this;
  }

  start() {
    this.startedAt = performance.now();
    this.pressureAtStart = cpuPressureSeconds();
    for (const entry of this.targets.values()) {
      if (entry.fromZero) {
        entry.first = 0;
        entry.firstAt = this.startedAt;
      }
    }
    this.tick();
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    return this;
  }

  tick() {
    const now = performance.now();
    if (this.udpOwners?.size) {
      const byInode = udpDropsByInode();
      for (const o of this.udpOwners.values()) {
        const pid = o.resolve();
        if (!pid) continue;
        // a socket shared by several processes of a tree (Kamailio's workers) counts once
        const inodes = new Set();
        for (const p of o.tree ? processTree(pid) : [pid]) for (const inode of socketInodes(p)) inodes.add(inode);
        let drops = 0;
        for (const inode of inodes) drops += byInode.get(inode) ?? 0;
        // a socket that closes takes its count with it: keep the running maximum of the increase
        o.first ??= drops;
        o.last = Math.max(o.last ?? drops, drops);
      }
    }
    for (const u of this.udpPorts?.values() ?? []) {
      const drops = udpSocketDrops(u.port);
      if (drops === undefined) continue;
      u.first ??= drops;
      u.last = drops;
    }
    for (const entry of this.targets.values()) {
      const pid = entry.resolve();
      if (!pid) continue;
      if (entry.tree) {
        this.tickTree(entry, pid, now);
        continue;
      }
      const cpu = cpuSeconds(pid);
      if (cpu === undefined) continue;
      if (entry.first === undefined) {
        entry.first = cpu;
        entry.firstAt = now;
      }
      entry.last = cpu;
      entry.lastAt = now;
      const mem = memory(pid);
      if (mem) entry.peakKiB = Math.max(entry.peakKiB, mem.hwmKiB || 0, mem.rssKiB || 0);
    }
  }

  /**
   * A process tree: CPU is the sum over the processes alive at each tick, per pid, so a worker
   * that appears later counts from its first sample and one that exits keeps what it had used.
   */
  tickTree(entry, rootPid, now) {
    entry.perPid ??= new Map();
    let pss = 0;
    for (const p of processTree(rootPid)) {
      const cpu = cpuSeconds(p);
      if (cpu === undefined) continue;
      const seen = entry.perPid.get(p);
      if (seen) seen.last = cpu;
      else entry.perPid.set(p, { first: entry.first === undefined && !entry.fromZero ? cpu : 0, last: cpu });
      pss += pssKiB(p) ?? 0;
    }
    const used = [...entry.perPid.values()].reduce((a, v) => a + (v.last - v.first), 0);
    if (entry.first === undefined) {
      entry.first = 0;
      entry.firstAt = now;
    }
    entry.last = used;
    entry.lastAt = now;
    entry.peakKiB = Math.max(entry.peakKiB, pss);
  }

  /**
   * Also follow the drops of every UDP socket a process (or its tree) owns, e.g. the gateway app's
   * ng client socket, whose port is not known in advance.
   */
  trackUdpDropsOf(name, pid, { tree = false } = {}) {
    (this.udpOwners ??= new Map()).set(name, { resolve: typeof pid === 'function' ? pid : () => pid, tree, first: undefined, last: undefined });
    return this;
  }

  /** Also follow the drop counter of the UDP socket on `port` (kept at its last value). */
  trackUdpDrops(name, port) {
    (this.udpPorts ??= new Map()).set(name, { port, first: undefined, last: undefined });
    return this;
  }

  stop() {
    this.tick();
    clearInterval(this.timer);
    const wallSeconds = (performance.now() - this.startedAt) / 1000;
    const pressureNow = cpuPressureSeconds();
    const stalled = pressureNow !== undefined && this.pressureAtStart !== undefined ? pressureNow - this.pressureAtStart : undefined;
    const result = { wallSeconds, cpuPressurePercent: stalled === undefined ? undefined : (100 * stalled) / wallSeconds };
    result.udpDrops = {};
    for (const [name, u] of this.udpPorts ?? []) result.udpDrops[name] = u.last === undefined ? undefined : u.last - u.first;
    result.udpDropsOf = {};
    for (const [name, o] of this.udpOwners ?? []) result.udpDropsOf[name] = o.last === undefined ? undefined : o.last - o.first;
    for (const [name, e] of this.targets) {
      const cpu = e.first === undefined || e.last === undefined ? undefined : e.last - e.first;
      const span = (e.lastAt - e.firstAt) / 1000;
      result[name] = {
        cpuSeconds: cpu,
        cpuPercent: cpu === undefined || span <= 0 ? undefined : (100 * cpu) / span,
        peakRssMiB: e.peakKiB ? e.peakKiB / 1024 : undefined,
        peakIsStepLocal: e.peakWasReset,
      };
    }
    return result;
  }
}

/**
 * UDP counters of this network namespace (/proc/net/snmp): RcvbufErrors counts datagrams the
 * kernel dropped because a socket's receive buffer was full.
 */
export function udpCounters() {
  try {
    const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
    const names = lines[0].split(/\s+/).slice(1);
    const values = lines[1].split(/\s+/).slice(1).map(Number);
    const get = (n) => values[names.indexOf(n)];
    return { rcvbufErrors: get('RcvbufErrors'), inErrors: get('InErrors'), inDatagrams: get('InDatagrams') };
  } catch {
    return undefined;
  }
}

/** Drops counted on the UDP socket(s) bound to this local port (/proc/net/udp, last column). */
export function udpSocketDrops(port) {
  try {
    const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
    let drops = 0;
    for (const line of readFileSync('/proc/net/udp', 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length > 12 && cols[1].endsWith(`:${hexPort}`)) drops += Number(cols[cols.length - 1]) || 0;
    }
    return drops;
  } catch {
    return undefined;
  }
}

/** inode -> drops of every UDP socket (IPv4 and IPv6) in this network namespace. */
export function udpDropsByInode() {
  const out = new Map();
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    let text;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length > 12) out.set(cols[9], (out.get(cols[9]) ?? 0) + (Number(cols[cols.length - 1]) || 0));
    }
  }
  return out;
}

/** Inodes of the sockets pid has open (/proc/PID/fd links "socket:[N]"). */
export function socketInodes(pid) {
  const out = [];
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) out.push(m[1]);
      } catch {
        // closed meanwhile
      }
    }
  } catch {
    // gone
  }
  return out;
}
