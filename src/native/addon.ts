// The one place the TypeScript layer loads the `cog-node` addon (the napi-generated loader), once
// per process: a second copy of cog-node fails here (single-copy.ts), and a missing per-platform
// package is an error that names it (missing-addon.ts).
import type * as Addon from '../../index.js';
import { packageFile } from '../own-files.js';
import { missingAddonError } from './missing-addon.js';
import { claimProcess } from './single-copy.js';

claimProcess();

let addon: typeof Addon;
try {
  // By a computed URL: the bundle of dist/ must not take the napi-generated loader in.
  addon = (await import(packageFile('index.js').href)) as typeof Addon;
} catch (error) {
  throw missingAddonError(error, { name: 'cog-node', packagePrefix: 'cog-node', buildCommand: 'npm run build:native' });
}

// A local build older than this JavaScript (the prebuilt packages always match it) fails here,
// naming what it lacks, rather than at the first prediction.
const lacking = [
  typeof addon.trimNativeHeap === 'function' ? undefined : 'trimNativeHeap',
  typeof addon.releaseMemory === 'function' ? undefined : 'releaseMemory',
  typeof addon.PredictionAdmission?.prototype.admitNow === 'function' ? undefined : 'PredictionAdmission.admitNow',
  typeof addon.cancelTokenNew === 'function' ? undefined : 'cancelTokenNew',
  typeof addon.admissionAdmitNow === 'function' ? undefined : 'admissionAdmitNow',
].filter((name) => name !== undefined);
if (lacking.length > 0) {
  throw new Error(
    `The cog-node native addon is older than its JavaScript (it lacks ${lacking.join(', ')}): rebuild it with \`npm run build:native\``,
  );
}

export const { CancelToken, OutputChannel, registeredCancelTokens } = addon;
// A prediction's token by id alone (crates/node/src/cancel.rs): a plain N-API call each (~40 ns),
// where a `CancelToken` object cost ~1.8 µs to make and ~340 ns per getter.
export const { cancelTokenNew, cancelTokenCancel, cancelTokenCanceled, cancelTokenRelease } = addon;

/**
 * The `CancelToken` object of the registered token `id` (it reads and sets the same flag). Once
 * the id has been released, a token of its own, cancelled when `canceled` says so.
 */
export function cancelTokenOf(id: number, canceled: boolean): CancelToken {
  try {
    return CancelToken.fromId(id);
  } catch {
    const token = new CancelToken();
    if (canceled) token.cancel();
    token.release();
    return token;
  }
}
export type CancelToken = Addon.CancelToken;
export type OutputChannel = Addon.OutputChannel;
export type { OutputConsumer } from '../../index.js';
// The admission line in front of the slots, and the batch former (crates/core queue.rs, batch.rs).
export const { PredictionAdmission, PredictionBatches, PredictionSlot, WaitingTicket } = addon;
// A free slot taken and given back by the admission's id (~150 ns each, a method call ~450).
export const { admissionAdmitNow, admissionReleaseHandle } = addon;
export type PredictionAdmission = Addon.PredictionAdmission;
export type PredictionBatches = Addon.PredictionBatches;
export type WaitingTicket = Addon.WaitingTicket;
export type PredictionSlot = Addon.PredictionSlot;
export type { AdmissionFull } from '../../index.js';
// The safetensors reader and the cancel-token table that the torch addon calls through.
export const { cancelTokenAbi, readSafetensors } = addon;
// glibc's malloc_trim and V8's low-memory collection, once a thread is set up and idle
// (crates/node/src/memory.rs, runtime/idle-release.ts).
export const { releaseMemory, trimNativeHeap } = addon;
export type { SafetensorsView, SafetensorsViews } from '../../index.js';
