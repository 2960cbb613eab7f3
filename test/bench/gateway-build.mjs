// --gateway-rev REV: bench the gateway exactly as committed at REV instead of the working tree
// (which may hold other people's unfinished edits). `git archive REV gateway tsconfig.json` is
// unpacked under .tmp/bench-gateway/<commit>/ and compiled with the repository's tsc; node_modules
// resolves through a symlink (gateway/node_modules) and upwards (/node_modules). Built once per
// commit and reused.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './stack.mjs';

/** Path of cli/index.js built from `rev`, and the full commit id. */
export function buildGatewayAt(rev, log = () => {}) {
  const git = (...args) => execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  const commit = git('rev-parse', '--verify', `${rev}^{commit}`);
  const root = join(REPO_ROOT, '.tmp/bench-gateway', commit);
  const cli = join(root, 'gateway/dist/cli/index.js');
  if (existsSync(cli)) return { cli, commit };
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  log(`building the gateway at ${commit.slice(0, 10)} in ${root} ...`);
  execFileSync('sh', ['-c', `git archive ${commit} gateway tsconfig.json | tar -x -C '${root}'`], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  symlinkSync(join(REPO_ROOT, 'gateway/node_modules'), join(root, 'gateway/node_modules'));
  execFileSync(process.execPath, [join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'gateway/tsconfig.json')], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  if (!existsSync(cli)) throw new Error(`building the gateway at ${commit} produced no ${cli}`);
  return { cli, commit };
}
