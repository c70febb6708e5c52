#!/usr/bin/env node
// Replaces each dist/vendor/<name>.js (tsc's re-export of a package of many small modules: yaml
// ~70, Hono and its adapter ~36) with one esbuild bundle of the same exports, so a thread loads
// each as one file. Run by build:ts. TypeBox is left to scripts/bundle-dist.mjs, which takes its
// ES modules into dist/'s chunks, so that each thread loads only the part it uses.
import { readdirSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

const vendor = new URL('../src/vendor/', import.meta.url);
for (const file of readdirSync(vendor).filter((name) => name.endsWith('.ts') && !name.startsWith('typebox'))) {
  const out = new URL(`../dist/vendor/${file.replace(/\.ts$/, '.js')}`, import.meta.url);
  await build({
    entryPoints: [new URL(file, vendor).pathname],
    outfile: out.pathname,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    legalComments: 'eof',
    // yaml is CommonJS and requires Node's builtins: give the bundle a `require`.
    banner: { js: "import { createRequire as __cogNodeRequire } from 'node:module'; const require = __cogNodeRequire(import.meta.url);" },
    logLevel: 'warning',
  });
  // tsc's source map described the re-export this bundle replaced.
  rmSync(new URL(`${out.href}.map`), { force: true });
}
