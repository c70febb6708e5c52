// The one place the TypeScript layer loads the `cog-node` addon (the napi-generated loader).
export { CancelToken, OutputChannel, PredictionSlots, registeredCancelTokens } from '../index.js';
export type { OutputConsumer } from '../index.js';
export type { PredictionSlot } from '../index.js';
// The safetensors reader and the cancel-token table that the torch addon calls through.
export { cancelTokenAbi, readSafetensors } from '../index.js';
export type { SafetensorsView, SafetensorsViews } from '../index.js';
