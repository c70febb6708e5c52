// Where cog-node's own files are: the package folder, and the modules that threads, hooks and the
// CLI load by path. One owner, because dist/ is bundled (scripts/bundle-dist.mjs): a module's code
// then lives in a shared chunk, so a path relative to its own `import.meta.url` would point elsewhere.
import { existsSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Run from the TypeScript sources (tests, under tsx) rather than from the built dist/. */
export const fromSource: boolean = import.meta.url.endsWith('.ts');

function nearestPackage(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`cog-node: no package.json above ${from}`);
  }
}

/** This copy's package folder (src/ and dist/ of one package are the same copy). */
export const packageRoot: string = realpathSync(nearestPackage(dirname(fileURLToPath(import.meta.url))));

/** A file of the package by its path from the package folder (`index.js`: the addon's loader). */
export const packageFile = (path: string): URL => pathToFileURL(join(packageRoot, path));

/**
 * One of cog-node's own modules by its path under src/ without extension (`runtime/worker/thread`):
 * the `.ts` source when running from source, else the built entry in dist/ (an entry of the bundle,
 * listed in scripts/bundle-dist.mjs).
 */
export const ownModule = (path: string): URL => packageFile(fromSource ? `src/${path}.ts` : `dist/${path}.js`);
