// Loads the torch addon: libtorch first (found and preloaded), then the napi-generated loader,
// then hands it the core addon's cancel-token table. Importing `cog-node/torch` without libtorch
// rejects with `LibtorchNotFoundError`, whose message says what to install.
import { cancelTokenAbi } from '../native.js';
import { findLibtorch, preloadLibtorch } from './libtorch.js';

export const libtorch = findLibtorch();
preloadLibtorch(libtorch);

const addon = await import('../../torch/index.js');
addon.setCancelTokenAbi(cancelTokenAbi());

export const native = addon;
export type NativeTensor = import('../../torch/index.js').Tensor;
export type NativeModule = import('../../torch/index.js').TorchModule;
