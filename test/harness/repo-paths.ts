/** Where things are in this repository, independent of the current working directory. */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is test/harness/repo-paths.ts). */
export const repoRoot: string = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The installed directory of an npm package, resolved the way Node resolves it from the repository root. */
export function packageDir(packageName: string): string {
  const require = createRequire(join(repoRoot, 'package.json'));
  return dirname(require.resolve(`${packageName}/package.json`));
}

/** The engine's command-line entry point, produced by `npm run build`. */
export function engineCliPath(root: string = repoRoot): string {
  return join(root, 'gateway', 'dist', 'cli', 'index.js');
}
