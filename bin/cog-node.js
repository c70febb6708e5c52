#!/usr/bin/env node
// The `cog-node` command. In a project with its own node_modules/cog-node of the same major
// version, that copy runs (as eslint, vitest and tsc hand over to a local install): one cog-node
// per process, or cancel tokens and scopes would live in two copies. Otherwise this copy's
// compiled CLI in dist/ (built by `npm install` in a clone).
import { readFileSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const self = realpathSync(join(dirname(fileURLToPath(import.meta.url)), '..'));
const versionOf = (root) => JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
// Caret compatibility: 1.x with 1.x; below 1.0, 0.3.x with 0.3.x.
const compatible = (a, b) => {
  const [majorA, minorA] = a.split('.');
  const [majorB, minorB] = b.split('.');
  return majorA === majorB && (majorA !== '0' || minorA === minorB);
};

/** The project's own cog-node (found from the working directory, as the predictor's import finds it). */
function projectCopy() {
  let manifest;
  try {
    manifest = createRequire(join(process.cwd(), 'package.json')).resolve('cog-node/package.json');
  } catch {
    return undefined;
  }
  const root = realpathSync(dirname(manifest));
  if (root === self) return undefined;
  const [mine, theirs] = [versionOf(self), versionOf(root)];
  if (compatible(mine, theirs)) return root;
  process.stderr.write(
    `cog-node: not handing over to the project's cog-node ${theirs} (${root}): this is cog-node ${mine}, another major version. Run the project's own: npx cog-node\n`,
  );
  return undefined;
}

const local = projectCopy();
if (local !== undefined) {
  await import(pathToFileURL(join(local, 'bin', 'cog-node.js')).href);
} else {
  let main;
  try {
    ({ main } = await import('../dist/cli/main.js'));
  } catch (error) {
    // A missing native addon or a second cog-node: the message says what to do; no stack.
    if (error?.name !== 'NativeAddonNotFoundError' && error?.name !== 'DuplicateCogNodeError') throw error;
    process.stderr.write(`cog-node: ${error.message}\n`);
    process.exit(1);
  }
  // Exit explicitly: a predictor may leave timers or threads running after its prediction.
  process.exit(await main(process.argv.slice(2)));
}
