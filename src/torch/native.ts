// Loads the torch addon: finds its loader (the `cog-node-torch` package, which users install
// beside cog-node, or a clone's torch/ build), libtorch (found and preloaded), then the
// napi-generated loader, and hands it the core addon's cancel-token table. What is missing
// (the package, libtorch, the binary for this platform) is an error that says what to install.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { NativeAddonNotFoundError } from '../errors.js';
import { missingAddonError } from '../native/missing-addon.js';
import { packageFile } from '../own-files.js';
import { cancelTokenAbi } from '../native/addon.js';
import { COG_NODE_VERSION } from '../version.js';
import { findLibtorch, preloadLibtorch } from './libtorch.js';

type TorchAddon = typeof import('../../torch/index.js');

/**
 * The loader to import: a clone's `npm run build:torch` output, else the `cog-node-torch` package
 * (not a dependency of cog-node, so that users who never import cog-node/torch never download it).
 */
function torchLoader(): string {
  const cloneBuild = packageFile('torch/index.js');
  if (existsSync(cloneBuild)) return cloneBuild.href;
  try {
    createRequire(import.meta.url).resolve('cog-node-torch/package.json');
  } catch {
    throw new NativeAddonNotFoundError(
      `cog-node/torch needs the cog-node-torch package (the libtorch addon, kept out of cog-node so that only its users download it). ` +
        `Install it beside cog-node: \`npm install cog-node-torch@${COG_NODE_VERSION}\`. In a clone of cog-node, build it instead: \`npm run build:torch\` (see README).`,
    );
  }
  return 'cog-node-torch';
}

const loader = torchLoader();
export const libtorch = findLibtorch();
preloadLibtorch(libtorch);

let addon: TorchAddon;
try {
  addon = (await import(loader)) as TorchAddon;
} catch (error) {
  throw missingAddonError(error, { name: 'cog-node/torch', packagePrefix: 'cog-node-torch', buildCommand: 'npm run build:torch' });
}
addon.setCancelTokenAbi(cancelTokenAbi());

export const native = addon;
export type NativeTensor = import('../../torch/index.js').Tensor;
export type NativeModule = import('../../torch/index.js').TorchModule;
