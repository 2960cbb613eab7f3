#!/usr/bin/env node
// Benchmarks: INVITE calls/s and digest REGISTERs/s through the engine + a drachtio-srf app, and
// B2BUA calls/s through the whole gateway with rtpengine (compared with Kamailio + the same
// rtpengine), driven by SIPp over UDP on 127.0.0.1 at stepped rates. See test/bench/README.md.
//
//   node test/bench/index.mjs [--quick] [--max-rate N] [--only invite|register|b2bua] [--profile]
//                             [--step-seconds S] [--hold-ms MS] [--rates a,b,c] [--out FILE]
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { benchInvite } from './engine-bench.mjs';
import { benchRegister } from './register-bench.mjs';
import { B2BUA_VARIANTS, benchB2bua } from './b2bua-bench.mjs';
import { buildGatewayAt } from './gateway-build.mjs';
import { installCleanupHandlers, stopAll, stopWatchdog } from './processes.mjs';
import { profileMarkdown, summarizeProfile } from './profile.mjs';
import { renderMarkdown, writeJson } from './report.mjs';
import { requireSipp, SippMissingError } from './sipp-run.mjs';
import { REPO_ROOT } from './stack.mjs';

const FULL_INVITE_RATES = [100, 200, 400, 600, 800, 1000, 1500, 2000, 2500, 3000, 3500, 4000];
const FULL_REGISTER_RATES = [100, 200, 400, 600, 800, 1000, 1500, 2000, 2500, 3000, 3500, 4000];
const FULL_B2BUA_RATES = [100, 200, 300, 400, 500, 600, 800, 1000, 1200, 1500, 2000];
const QUICK_RATES = [50, 100, 200];
const QUICK_B2BUA_RATES = [50, 150];
// Time budgets (s) per bench, including startup and shutdown: the default full run stays under
// about 12 minutes, --quick under about 2 (the B2BUA part under 1).
const BUDGET_S = { invite: 172, register: 172, b2bua: 330 };
const QUICK_BUDGET_S = { invite: 27, register: 27, b2bua: 55 };
const KEEP_RUNS = 10; // run directories kept under .tmp/bench

const USAGE = `usage: node test/bench/index.mjs [options]   (or: npm run bench -- [options])
  --quick             smoke run: ${QUICK_RATES.join(', ')}/s, 3 s steps, under a minute
  --max-rate N        no step above N/s (N itself is added as the last step)
  --rates a,b,c       explicit step rates for both benches
  --only NAME         invite | register | b2bua
  --variants a,b      b2bua only: ${B2BUA_VARIANTS.map((v) => v.id).join(', ')} (default all)
  --keep-pcap         b2bua only: keep each step's SIP capture (.tmp/bench/<run>/b2bua/.../sip.pcap)
  --gateway-rev REV   bench the gateway (engine, app) as committed at REV, built under .tmp/bench-gateway,
                      not the working tree's gateway/dist
  --step-seconds S    length of each step in seconds of offered load (default 10, quick 3)
  --hold-ms MS        INVITE call hold time before the UAC's BYE (default 0)
  --recv-timeout MS   SIPp -recv_timeout: a missing response fails the call (default 5000)
  --profile           run engine and apps under node --cpu-prof and print the top self-time functions
  --out FILE          JSON report path (default test/bench/results/latest.json)`;

class UsageError extends Error {}

function parseOptions(argv) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        quick: { type: 'boolean' },
        'max-rate': { type: 'string' },
        rates: { type: 'string' },
        only: { type: 'string' },
        variants: { type: 'string' },
        'keep-pcap': { type: 'boolean' },
        'gateway-rev': { type: 'string' },
        'step-seconds': { type: 'string' },
        'hold-ms': { type: 'string' },
        'recv-timeout': { type: 'string' },
        profile: { type: 'boolean' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError(err.message);
  }
  const { values } = parsed;
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const num = (name, fallback) => {
    if (values[name] === undefined) return fallback;
    const n = Number(values[name]);
    if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} needs a positive number, got ${values[name]}`);
    return n;
  };
  if (values.only && !['invite', 'register', 'b2bua'].includes(values.only)) throw new UsageError('--only is invite, register or b2bua');
  const variants = values.variants?.split(',').filter(Boolean);
  const unknown = variants?.filter((v) => !B2BUA_VARIANTS.some((x) => x.id === v));
  if (unknown?.length) throw new UsageError(`unknown --variants ${unknown.join(', ')}`);
  const quick = Boolean(values.quick);
  let explicit;
  if (values.rates) {
    explicit = values.rates.split(',').map(Number);
    if (explicit.some((r) => !Number.isFinite(r) || r <= 0)) throw new UsageError(`bad --rates ${values.rates}`);
  }
  const maxRate = num('max-rate', undefined);
  const cap = (list) => {
    if (maxRate === undefined) return list;
    const kept = list.filter((r) => r < maxRate);
    return [...kept, maxRate];
  };
  return {
    quick,
    maxRate,
    only: values.only,
    profile: Boolean(values.profile),
    stepSeconds: num('step-seconds', quick ? 3 : 10),
    holdMs: values['hold-ms'] === '0' ? 0 : num('hold-ms', 0),
    recvTimeoutMs: num('recv-timeout', 5000),
    drainMs: quick ? 1000 : 2000,
    inviteRates: cap(explicit ?? (quick ? QUICK_RATES : FULL_INVITE_RATES)),
    registerRates: cap(explicit ?? (quick ? QUICK_RATES : FULL_REGISTER_RATES)),
    b2buaRates: cap(explicit ?? (quick ? QUICK_B2BUA_RATES : FULL_B2BUA_RATES)),
    variants,
    keepPcap: Boolean(values['keep-pcap']),
    gatewayRev: values['gateway-rev'],
    budgetSeconds: quick ? QUICK_BUDGET_S : BUDGET_S,
    out: values.out ?? join(REPO_ROOT, 'test/bench/results/latest.json'),
  };
}

function sh(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

function machineInfo() {
  const sippV = spawnSync(requireSipp(), ['-v'], { encoding: 'utf8' });
  const sippVersion = /SIPp v[^\s]+?(?=\.?\s|$)/.exec(`${sippV.stdout ?? ''}${sippV.stderr ?? ''}`)?.[0] ?? 'SIPp ?';
  return { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '?', node: process.version, sipp: sippVersion, loadAverageAtStart: loadavg().map((x) => x.toFixed(2)) };
}

function commandLine(argv) {
  const quoted = argv.map((a) => (/[\s;'"]/.test(a) ? `'${a}'` : a)).join(' ');
  if (process.env.npm_lifecycle_event === 'bench') return `npm run bench${quoted ? ` -- ${quoted}` : ''}`;
  return `node test/bench/index.mjs${quoted ? ` ${quoted}` : ''}`;
}

async function main() {
  const argv = process.argv.slice(2);
  const opts = parseOptions(argv);
  requireSipp();
  installCleanupHandlers();
  const started = Date.now();
  const stamp = new Date(started).toISOString().replace(/[:.]/g, '-');
  const runDir = join(REPO_ROOT, '.tmp/bench', stamp);
  mkdirSync(runDir, { recursive: true });
  pruneOldRuns(join(REPO_ROOT, '.tmp/bench'), KEEP_RUNS);
  const profileDir = opts.profile ? join(runDir, 'profiles') : undefined;
  const log = (line) => console.error(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${line}`);
  const dirty = sh('git', ['status', '--porcelain', '--', 'gateway']) ? ' (gateway has uncommitted changes)' : '';
  const report = {
    date: new Date(started).toISOString(),
    command: commandLine(argv),
    options: opts,
    machine: machineInfo(),
    git: `${sh('git', ['rev-parse', '--short', 'HEAD']) ?? '?'}${dirty}`,
    runDir,
  };
  let gatewayCli;
  if (opts.gatewayRev) {
    const built = buildGatewayAt(opts.gatewayRev, log);
    gatewayCli = built.cli;
    report.gatewayBuild = `gateway built from commit ${built.commit.slice(0, 10)} (--gateway-rev ${opts.gatewayRev})`;
  } else if (process.env.BENCH_GATEWAY_CLI) {
    gatewayCli = process.env.BENCH_GATEWAY_CLI;
    report.gatewayBuild = `gateway from BENCH_GATEWAY_CLI=${process.env.BENCH_GATEWAY_CLI}`;
  }
  const common = { gatewayCli, stepSeconds: opts.stepSeconds, recvTimeoutMs: opts.recvTimeoutMs, drainMs: opts.drainMs, runDir, profileDir, log };
  const runs = (name) => !opts.only || opts.only === name;
  // each bench gets its budget plus whatever the benches before it left unused
  let budgetEnd = Date.now();
  const deadline = (name) => (budgetEnd = Math.max(budgetEnd, Date.now()) + opts.budgetSeconds[name] * 1000);
  if (runs('invite')) {
    report.invite = await benchInvite({ ...common, rates: opts.inviteRates, holdMs: opts.holdMs, deadline: deadline('invite') }).catch((err) => {
      log(`invite bench failed: ${err.stack ?? err}`);
      return { error: String(err.message ?? err) };
    });
  }
  if (runs('register')) {
    report.register = await benchRegister({ ...common, rates: opts.registerRates, deadline: deadline('register') }).catch((err) => {
      log(`register bench failed: ${err.stack ?? err}`);
      return { error: String(err.message ?? err) };
    });
  }
  if (runs('b2bua')) {
    report.b2bua = await benchB2bua({
      ...common,
      drainMs: Math.min(opts.drainMs, 1000), // the B2BUA step waits for 0 calls and 0 rtpengine sessions first
      rates: opts.b2buaRates,
      holdMs: opts.holdMs,
      deadline: deadline('b2bua'),
      variants: opts.variants,
      keepPcap: opts.keepPcap,
    }).catch((err) => {
      log(`b2bua bench failed: ${err.stack ?? err}`);
      return { error: String(err.message ?? err) };
    });
  }
  await stopAll();
  if (profileDir) report.profiles = summarizeProfiles(profileDir);
  report.totalSeconds = Math.round((Date.now() - started) / 1000);
  const markdown = renderMarkdown(report);
  console.log(`\n${markdown}`);
  writeJson(opts.out, report);
  writeFileSync(opts.out.replace(/\.json$/, '') + '.md', `${markdown}\n`);
  log(`wrote ${opts.out} (and .md)`);
  const ok =
    [report.invite, report.register].every((r) => !r || (!r.error && r.steps.length > 0)) &&
    (!report.b2bua || (!report.b2bua.error && report.b2bua.variants.every((v) => v.skipped || (!v.error && v.steps.length > 0))));
  process.exitCode = ok ? 0 : 1;
  await stopWatchdog();
}

/** Keeps the `keep` newest run directories under dir (names are ISO timestamps). */
function pruneOldRuns(dir, keep) {
  const runs = readdirSync(dir).filter((n) => /^\d{4}-\d{2}-\d{2}T/.test(n)).sort();
  for (const name of runs.slice(0, Math.max(0, runs.length - keep))) rmSync(join(dir, name), { recursive: true, force: true });
}

function summarizeProfiles(profileDir) {
  const out = [];
  const benches = existsSync(profileDir) ? readdirSync(profileDir).filter((d) => d === 'invite' || d === 'register' || d.startsWith('b2bua-')) : [];
  for (const bench of benches.sort()) {
    const dir = join(profileDir, bench);
    if (!existsSync(dir)) continue;
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort()) {
      const summary = summarizeProfile(join(dir, file), { repoRoot: REPO_ROOT });
      out.push({ bench, process: file.replace(/\.cpuprofile$/, ''), ...summary, markdown: profileMarkdown(`${bench} bench: ${file}`, summary) });
    }
  }
  return out;
}

main().catch(async (err) => {
  if (err instanceof SippMissingError) console.error(`bench: ${err.message}`);
  else if (err instanceof UsageError) console.error(`bench: ${err.message}\n${USAGE}`);
  else console.error(`bench: ${err.stack ?? err}`);
  await stopAll().catch(() => {});
  await stopWatchdog().catch(() => {});
  process.exit(2);
});
