#!/usr/bin/env node
// `npm run pack:release`: packs the release for this platform into release/ as npm would publish
// it: the per-platform package of each addon built here (npm/<platform>/, torch/npm/<platform>/),
// and `cog-node` (and `cog-node-torch` when its addon is built) with their optionalDependencies
// listing every platform package, as `napi pre-publish` writes them at publish time. Rust is built
// only when the addon is missing (CARGO_TARGET_DIR is honoured, to share a build cache).
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'release');
const stage = join(out, '.stage');
const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));
const npm = (args, cwd) => execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });

/** npm pack of `dir` into release/, without lifecycle scripts (prepare would rebuild Rust). */
function pack(dir) {
  const [{ filename }] = JSON.parse(npm(['pack', '--ignore-scripts', '--json', '--pack-destination', out], dir));
  console.log(`packed release/${filename}`);
}

/** The platform packages of one addon (napi create-npm-dirs made their manifests in npmDir). */
function platformPackages(npmDir) {
  return readdirSync(npmDir).map((platform) => ({
    dir: join(npmDir, platform),
    manifest: readJson(join(npmDir, platform, 'package.json')),
  }));
}

/**
 * Packs each platform package whose binary is built here (copied in beside its manifest, as
 * `napi artifacts` does in CI), then the addon's main package with the optionalDependencies
 * added to a staged copy of its package.json (the committed one stays free of them, so that
 * `npm ci` in a clone does not look them up).
 */
function packAddon({ packageDir, npmDir, buildDir, extra = {} }) {
  const platforms = platformPackages(npmDir);
  let built = 0;
  for (const { dir, manifest } of platforms) {
    const binary = join(buildDir, manifest.main);
    if (!existsSync(binary)) continue;
    copyFileSync(binary, join(dir, manifest.main));
    pack(dir);
    built += 1;
  }
  const manifest = readJson(join(packageDir, 'package.json'));
  const staged = join(stage, manifest.name);
  rmSync(staged, { recursive: true, force: true });
  mkdirSync(staged, { recursive: true });
  const [{ files }] = JSON.parse(npm(['pack', '--ignore-scripts', '--dry-run', '--json'], packageDir));
  for (const { path } of files) cpSync(join(packageDir, path), join(staged, path), { recursive: true });
  manifest.optionalDependencies = Object.fromEntries(platforms.map(({ manifest: platform }) => [platform.name, manifest.version]));
  delete manifest.scripts?.prepare;
  writeFileSync(join(staged, 'package.json'), `${JSON.stringify({ ...manifest, ...extra }, null, 2)}\n`);
  pack(staged);
  return built;
}

const addon = readdirSync(root).find((name) => /^cog-node\.[a-z0-9-]+\.node$/.test(name));
if (addon === undefined) {
  console.log('no native addon built here: npm run build:native');
  execFileSync('npm', ['run', 'build:native'], { cwd: root, stdio: 'inherit' });
}
execFileSync('npm', ['run', 'build:ts'], { cwd: root, stdio: 'inherit' });
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const version = readJson(join(root, 'package.json')).version;
packAddon({
  packageDir: root,
  npmDir: join(root, 'npm'),
  buildDir: root,
  // cog-node/torch loads the cog-node-torch package; an optional peer, so that npm never installs it unasked.
  extra: { peerDependencies: { 'cog-node-torch': version }, peerDependenciesMeta: { 'cog-node-torch': { optional: true } } },
});
const torchDir = join(root, 'torch');
if (readdirSync(torchDir).some((name) => name.endsWith('.node'))) {
  packAddon({ packageDir: torchDir, npmDir: join(torchDir, 'npm'), buildDir: torchDir });
} else {
  console.log('cog-node-torch: not built here (npm run build:torch), not packed');
}
rmSync(stage, { recursive: true, force: true });
