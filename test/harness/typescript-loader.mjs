// Node module hooks that let plain `node` import the harness's TypeScript files (Node 20 cannot
// strip types and the repository has no tsx). Each .ts file is transpiled on load with the
// `typescript` package (type-only constructs are removed; no type checking), and a relative
// `./x.js` import falls back to `./x.ts`, matching the Node16 import style of the sources.
//
// Use from an .mjs entry point:
//   import { register } from 'node:module';
//   register('../harness/typescript-loader.mjs', import.meta.url);
//   const { something } = await import('./something.ts');
// @ts-check
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/** @type {typeof import('typescript') | undefined} */
let typescript;

/** @returns {Promise<typeof import('typescript')>} */
async function transpiler() {
  typescript ??= (await import('typescript')).default;
  return typescript;
}

/**
 * @param {string} specifier
 * @param {object} context
 * @param {(specifier: string, context: object) => Promise<unknown>} nextResolve
 */
export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    const relative = specifier.startsWith('./') || specifier.startsWith('../');
    const code = /** @type {{ code?: string } | undefined} */ (error)?.code;
    if (code !== 'ERR_MODULE_NOT_FOUND' || !relative || !specifier.endsWith('.js')) throw error;
    return nextResolve(`${specifier.slice(0, -3)}.ts`, context);
  }
}

/**
 * @param {string} url
 * @param {object} context
 * @param {(url: string, context: object) => Promise<unknown>} nextLoad
 */
export async function load(url, context, nextLoad) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return nextLoad(url, context);
  const ts = await transpiler();
  const fileName = fileURLToPath(url);
  const source = await readFile(fileName, 'utf8');
  const { outputText } = ts.transpileModule(source, {
    fileName,
    compilerOptions: {
      module: ts.ModuleKind.ESNext,
      target: ts.ScriptTarget.ES2022,
      sourceMap: false,
      inlineSourceMap: true,
      inlineSources: true,
    },
  });
  return { format: 'module', source: outputText, shortCircuit: true };
}
