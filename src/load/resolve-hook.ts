// Module-resolution hooks for predictors, registered by load-module.ts.
// 1. A predictor imports 'cog-node' (or 'cog-node/torch') and gets the copy of cog-node that is
//    running it, also from a folder that never installed it (as Cog provides `cog` to every
//    model). Installed copies win: they resolve first.
// 2. A `.ts` predictor is an ES module unless its package.json says `"type": "commonjs"`: Cog
//    folders often have no package.json, and TypeScript written against cog-node's ESM API
//    would otherwise be loaded as CommonJS and fail.
import { existsSync, readFileSync } from 'node:fs';
import type { ResolveHook } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageFile } from '../own-files.js';

const self = packageFile('package.json').href;
const declaredCommonJs = new Map<string, boolean>();

/** Whether the nearest package.json above `dir` says `"type": "commonjs"` (compile-cache.ts asks too). */
export function saysCommonJs(dir: string): boolean {
  const cached = declaredCommonJs.get(dir);
  if (cached !== undefined) return cached;
  const manifest = join(dir, 'package.json');
  let result: boolean;
  if (existsSync(manifest)) {
    try {
      result = (JSON.parse(readFileSync(manifest, 'utf8')) as { type?: unknown }).type === 'commonjs';
    } catch {
      result = false;
    }
  } else {
    const parent = dirname(dir);
    result = parent === dir ? false : saysCommonJs(parent);
  }
  declaredCommonJs.set(dir, result);
  return result;
}

export const resolve: ResolveHook = async (specifier, context, nextResolve) => {
  let resolved;
  try {
    resolved = await nextResolve(specifier, context);
  } catch (error) {
    if (specifier === 'cog-node' || specifier.startsWith('cog-node/')) {
      return nextResolve(specifier, { ...context, parentURL: self });
    }
    throw error;
  }
  if (
    resolved.format === 'commonjs' &&
    /\.tsx?$/.test(resolved.url) &&
    resolved.url.startsWith('file:') &&
    !resolved.url.includes('/node_modules/') &&
    !saysCommonJs(dirname(fileURLToPath(resolved.url)))
  ) {
    return { ...resolved, format: 'module' };
  }
  return resolved;
};
