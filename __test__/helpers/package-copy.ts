// A copy of the cog-node package as npm would install it (package.json, bin, dist, the loader,
// the addon), in a folder of its own: for layouts with two copies, or a copy missing its addon.
import { cpSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './cli.js';

/** Copies the built package (run `npm run build:ts` first) to `dest`; returns `dest`. */
export function copyPackage(dest: string, options: { addon?: boolean; version?: string } = {}): string {
  mkdirSync(dest, { recursive: true });
  for (const entry of ['bin', 'dist', 'index.js', 'index.d.ts']) cpSync(join(ROOT, entry), join(dest, entry), { recursive: true });
  if (options.addon ?? true) {
    for (const file of readdirSync(ROOT).filter((name) => name.endsWith('.node'))) cpSync(join(ROOT, file), join(dest, file));
  }
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  if (options.version !== undefined) manifest.version = options.version;
  writeFileSync(join(dest, 'package.json'), JSON.stringify(manifest, null, 2));
  // Its own dependencies (hono, typebox, tsx...), as npm would have installed them.
  symlinkSync(join(ROOT, 'node_modules'), join(dest, 'node_modules'), 'dir');
  return dest;
}
