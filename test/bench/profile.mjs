// Summarises a V8 .cpuprofile (node --cpu-prof): self time per function and per file.
import { readFileSync } from 'node:fs';

const SPECIAL = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);

/** Repo-relative, src-flavoured location: gateway/dist/x/y.js -> gateway/src/x/y.ts. */
function shortUrl(url, repoRoot) {
  let u = (url ?? '').replace(/^file:\/\//, '');
  if (repoRoot && u.startsWith(repoRoot)) u = u.slice(repoRoot.length);
  u = u.replace(/^gateway\/dist\/(.*)\.js$/, 'gateway/src/$1.ts');
  return u.replace(/^.*\/node_modules\//, 'node_modules/');
}

/**
 * { totalMs, busyMs, functions: [{name, where, selfMs, pctTotal, pctBusy}], files: [...] }.
 * "busy" excludes (idle); (program) and (garbage collector) stay in, as V8 reports them.
 */
export function summarizeProfile(file, { repoRoot, top = 20 } = {}) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parentOf = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
  const selfUs = new Map();
  const { samples = [], timeDeltas = [] } = profile;
  for (let i = 0; i < samples.length; i++) {
    const dt = timeDeltas[i + 1] ?? 0; // time until the next sample belongs to this one
    selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + Math.max(0, dt));
  }
  const fn = new Map();
  const files = new Map();
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const cf = byId.get(id)?.callFrame ?? {};
    const name = cf.functionName || '(anonymous)';
    totalUs += us;
    if (name === '(idle)') idleUs += us;
    const where = SPECIAL.has(name) ? '' : `${shortUrl(cf.url, repoRoot) || '(native)'}:${(cf.lineNumber ?? -1) + 1}`;
    const key = `${name} ${where}`;
    const entry = fn.get(key) ?? { name, where, us: 0, callers: new Map() };
    entry.us += us;
    // The nearest caller outside Node internals and natives (the code that asked for this work).
    let callerId = parentOf.get(id);
    for (let hops = 0; hops < 64 && callerId !== undefined; hops++) {
      const url = byId.get(callerId)?.callFrame?.url ?? '';
      if (url.startsWith('file://') || url.startsWith('/')) break;
      callerId = parentOf.get(callerId);
    }
    const caller = byId.get(callerId)?.callFrame;
    if (caller) {
      const callerKey = `${caller.functionName || '(anonymous)'} ${shortUrl(caller.url, repoRoot)}:${(caller.lineNumber ?? -1) + 1}`;
      entry.callers.set(callerKey, (entry.callers.get(callerKey) ?? 0) + us);
    }
    fn.set(key, entry);
    const fileKey = SPECIAL.has(name) ? name : shortUrl(cf.url, repoRoot) || '(native)';
    files.set(fileKey, (files.get(fileKey) ?? 0) + us);
  }
  const busyUs = totalUs - idleUs;
  const pct = (us, of) => (of > 0 ? Number(((100 * us) / of).toFixed(1)) : 0);
  const functions = [...fn.values()]
    .filter((e) => e.name !== '(idle)')
    .sort((a, b) => b.us - a.us)
    .slice(0, top)
    .map((e) => ({
      name: e.name,
      where: e.where,
      selfMs: Math.round(e.us / 1000),
      pctBusy: pct(e.us, busyUs),
      pctTotal: pct(e.us, totalUs),
      topCaller: [...e.callers].sort((a, b) => b[1] - a[1])[0]?.[0],
    }));
  const fileRows = [...files.entries()]
    .filter(([k]) => k !== '(idle)')
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([where, us]) => ({ where, selfMs: Math.round(us / 1000), pctBusy: pct(us, busyUs) }));
  return { file, totalMs: Math.round(totalUs / 1000), busyMs: Math.round(busyUs / 1000), functions, files: fileRows };
}

/** Markdown for one summary. */
export function profileMarkdown(title, s, rows = 15) {
  const lines = [`#### ${title}`, '', `busy ${s.busyMs} ms of ${s.totalMs} ms sampled (${s.file})`, '', '| self % of busy | self ms | function | location | main caller in app code |', '|---:|---:|---|---|---|'];
  for (const f of s.functions.slice(0, rows)) lines.push(`| ${f.pctBusy} | ${f.selfMs} | ${f.name} | ${f.where} | ${f.topCaller ?? ''} |`);
  lines.push('', '| self % of busy | self ms | file |', '|---:|---:|---|');
  for (const f of s.files.slice(0, 10)) lines.push(`| ${f.pctBusy} | ${f.selfMs} | ${f.where} |`);
  return lines.join('\n');
}
