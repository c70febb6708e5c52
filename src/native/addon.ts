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

export const { CancelToken, OutputChannel, registeredCancelTokens } = addon;
export type CancelToken = Addon.CancelToken;
export type OutputChannel = Addon.OutputChannel;
export type { OutputConsumer } from '../../index.js';
// The admission line in front of the slots, and the batch former (crates/core queue.rs, batch.rs).
export const { PredictionAdmission, PredictionBatches, PredictionSlot, WaitingTicket } = addon;
export type PredictionAdmission = Addon.PredictionAdmission;
export type PredictionBatches = Addon.PredictionBatches;
export type WaitingTicket = Addon.WaitingTicket;
export type PredictionSlot = Addon.PredictionSlot;
export type { AdmissionFull } from '../../index.js';
// The safetensors reader and the cancel-token table that the torch addon calls through.
export const { cancelTokenAbi, readSafetensors } = addon;
// glibc's malloc_trim, once a server is ready (crates/node/src/memory.rs). An addon built before
// it (a stale local build) lacks it: trimming only saves memory, so that addon still serves.
export const trimNativeHeap: () => boolean = (addon.trimNativeHeap as (() => boolean) | undefined) ?? (() => false);
export type { SafetensorsView, SafetensorsViews } from '../../index.js';
