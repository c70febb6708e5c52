// What a predictor's own module needs from 'cog-node': the predictor API, its errors and scope,
// without the server, the runtime or the CLI. index.ts re-exports all of it; a compiled predictor
// that imports only these names is pointed here (load/compile-cache.ts), so its thread loads less.
export {
  BasePredictor,
  BaseRunner,
  BaseTrainer,
  type BatchPredictor,
  type Inputs,
  type InputsDeclaration,
  type Output,
  type PredictorBatch,
  type PredictorConcurrency,
} from './predictor/base-predictor.js';
export type { ModelInstance } from './predictor/instance.js';
export { Input, type InputOptions } from './predictor/input.js';
export { Type, type Static, type TSchema } from './predictor/type.js';
export { Path } from './predictor/path.js';
export { Secret } from './predictor/secret.js';
export {
  AtCapacityError,
  CancelationError,
  CogNodeError,
  InputValidationError,
  NativeAddonNotFoundError,
  NotReadyError,
  PredictionError,
  PredictionNotFoundError,
  PredictorLoadError,
  QueueFullError,
  type ErrorCode,
  type ValidationIssue,
} from './errors.js';
export { currentScope, type Scope, type MetricRecorder, type MetricEvent } from './predictor/scope.js';
export type { MetricValue, MetricsObject } from './predictor/metrics.js';
