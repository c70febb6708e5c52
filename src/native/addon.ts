// The one place the TypeScript layer loads the `cog-node` addon (the napi-generated loader), once
// per process: a second copy of cog-node fails here (single-copy.ts), and a missing per-platform
// package is an error that names it (missing-addon.ts).
import type * as Addon from '../../index.js';
import { missingAddonError } from './missing-addon.js';
import { claimProcess } from './single-copy.js';

claimProcess();

let addon: typeof Addon;
try {
  addon = await import('../../index.js');
} catch (error) {
  throw missingAddonError(error, { name: 'cog-node', packagePrefix: 'cog-node', buildCommand: 'npm run build:native' });
}

export const { CancelToken, OutputChannel, PredictionSlots, registeredCancelTokens } = addon;
export type CancelToken = Addon.CancelToken;
export type OutputChannel = Addon.OutputChannel;
export type PredictionSlots = Addon.PredictionSlots;
export type { OutputConsumer, PredictionSlot } from '../../index.js';
// The safetensors reader and the cancel-token table that the torch addon calls through.
export const { cancelTokenAbi, readSafetensors } = addon;
export type { SafetensorsView, SafetensorsViews } from '../../index.js';
