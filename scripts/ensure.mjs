#!/usr/bin/env node
// Brings a fresh clone to the point where `npm start` / `npm test` work, doing only what is stale.
//
//   node scripts/ensure.mjs [--build] [--system]
//
//   (always)   `npm install` when node_modules is missing, or package-lock.json or any workspace
//              package.json is newer than node_modules/.package-lock.json
//   --build    `npm run build` when gateway/dist is missing or older than a gateway/src/**/*.ts
//              (test files excluded, as in gateway/tsconfig.json) or a tsconfig
//   --system   `bash scripts/setup.sh`, which installs missing Debian programs (sipp, rtpengine, ...)
//              when root and prints how to install them otherwise; it is a no-op when all are present
//
// Plain Node ESM without dependencies: it runs before `npm install` has ever happened.
// Prints nothing when there is nothing to do.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, utimesSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = dirname(dirname(fileURLToPath(import.meta.url)));
const knownFlags = new Set(['--build', '--system']);

function parseFlags(argv) {
  for (const arg of argv) {
    if (!knownFlags.has(arg)) {
      console.error(`ensure.mjs: unknown option ${arg} (known: ${[...knownFlags].join(', ')})`);
      process.exit(2);
    }
  }
  return { build: argv.includes('--build'), system: argv.includes('--system') };
}

/** mtime in ms, or undefined when the path does not exist. */
function mtimeOf(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

/** Newest mtime of the files below dir accepted by keep(); 0 when there are none. */
function newestFileMtime(dir, keep) {
  let newest = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules') newest = Math.max(newest, newestFileMtime(path, keep));
    } else if (keep(path)) {
      newest = Math.max(newest, mtimeOf(path) ?? 0);
    }
  }
  return newest;
}

function run(command, args) {
  console.log(`ensure: ${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, { cwd: repoRoot, stdio: 'inherit' });
  if (result.error) {
    console.error(`ensure: cannot run ${command}: ${result.error.message}`);
    process.exit(1);
  }
  if (result.status !== 0) {
    console.error(`ensure: ${command} ${args.join(' ')} failed (exit ${result.status ?? result.signal})`);
    process.exit(result.status ?? 1);
  }
}

function workspacePackageJsons() {
  const rootManifest = join(repoRoot, 'package.json');
  const manifests = [rootManifest];
  const workspaces = JSON.parse(readFileSync(rootManifest, 'utf8')).workspaces ?? [];
  for (const workspace of Array.isArray(workspaces) ? workspaces : []) {
    const manifest = join(repoRoot, workspace, 'package.json');
    if (existsSync(manifest)) manifests.push(manifest);
  }
  return manifests;
}

function npmInstallReason() {
  const installedLock = join(repoRoot, 'node_modules', '.package-lock.json');
  const installedAt = mtimeOf(installedLock);
  if (installedAt === undefined) return 'node_modules is missing or was never installed by npm';
  const inputs = [join(repoRoot, 'package-lock.json'), ...workspacePackageJsons()];
  const newer = inputs.find((path) => (mtimeOf(path) ?? 0) > installedAt);
  return newer ? `${newer.slice(repoRoot.length + 1)} changed since the last install` : undefined;
}

function ensureInstalled() {
  const reason = npmInstallReason();
  if (!reason) return;
  console.log(`ensure: ${reason}`);
  run('npm', ['install']);
  // npm leaves .package-lock.json alone when nothing changed; mark the install as current.
  const installedLock = join(repoRoot, 'node_modules', '.package-lock.json');
  if (existsSync(installedLock)) {
    const now = new Date();
    utimesSync(installedLock, now, now);
  }
}

function buildReason() {
  const gateway = join(repoRoot, 'gateway');
  const dist = join(gateway, 'dist');
  if (!existsSync(dist)) return 'gateway/dist is missing';
  const isCompiledSource = (path) => path.endsWith('.ts') && !path.endsWith('.test.ts') && !path.endsWith('.d.ts');
  const newestSource = Math.max(
    newestFileMtime(join(gateway, 'src'), isCompiledSource),
    mtimeOf(join(gateway, 'tsconfig.json')) ?? 0,
    mtimeOf(join(repoRoot, 'tsconfig.json')) ?? 0,
  );
  const newestOutput = newestFileMtime(dist, (path) => path.endsWith('.js'));
  if (newestSource > newestOutput) return 'gateway sources are newer than gateway/dist';
  const softphone = join(repoRoot, 'softphone');
  const pageDist = join(softphone, 'dist');
  if (!existsSync(join(pageDist, 'index.html'))) return 'softphone/dist is missing';
  const newestPageSource = Math.max(
    newestFileMtime(join(softphone, 'src'), () => true),
    ...['index.html', 'vite.config.ts', 'package.json', 'tsconfig.json'].map((f) => mtimeOf(join(softphone, f)) ?? 0),
  );
  return newestPageSource > newestFileMtime(pageDist, () => true) ? 'softphone sources are newer than softphone/dist' : undefined;
}

function ensureBuilt() {
  const reason = buildReason();
  if (!reason) return;
  console.log(`ensure: ${reason}`);
  run('npm', ['run', 'build']);
}

function ensureSystemPrograms() {
  // setup.sh owns the list of programs; it exits at once, silently, when all are present.
  const result = spawnSync('bash', [join(repoRoot, 'scripts', 'setup.sh')], { cwd: repoRoot, stdio: 'inherit' });
  if (result.error) {
    console.error(`ensure: cannot run scripts/setup.sh: ${result.error.message}`);
    process.exit(1);
  }
  if (result.status !== 0) {
    console.error(`ensure: scripts/setup.sh failed (exit ${result.status ?? result.signal})`);
    process.exit(result.status ?? 1);
  }
}

const flags = parseFlags(process.argv.slice(2));
ensureInstalled();
if (flags.build) ensureBuilt();
if (flags.system) ensureSystemPrograms();
