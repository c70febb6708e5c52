// The one place the TypeScript layer loads the `cog-node` addon (the napi-generated loader).
export { CancelToken, PredictionSlots, registeredCancelTokens } from '../index.js';
export type { PredictionSlot } from '../index.js';
