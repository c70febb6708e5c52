// cog-node's public API: write a predictor, describe its inputs, run it (CLI, HTTP, embedded).
export { BasePredictor, BaseRunner, BaseTrainer, type Inputs, type InputsDeclaration, type PredictorConcurrency } from './predictor.js';
export { Input, type InputOptions } from './input.js';
export { Type, type Static, type TSchema } from './types.js';
export { Path } from './path.js';
export { Secret } from './secret.js';
export {
  AtCapacityError,
  CancelationError,
  CogNodeError,
  InputValidationError,
  NativeAddonNotFoundError,
  NotReadyError,
  PredictionError,
  PredictorLoadError,
  type ErrorCode,
  type ValidationIssue,
} from './errors.js';
export { currentScope, type Scope, type MetricRecorder, type MetricEvent } from './scope.js';
export type { MetricValue, MetricsObject } from './metrics.js';
export { loadPredictor, LoadedPredictor, type LoadOptions, type PredictOptions } from './embed.js';
export { Prediction, type PredictionResponse, type PredictionStatus } from './prediction.js';
export { PredictorRuntime, type RuntimeOptions } from './runtime.js';
export { openApiSchema } from './openapi.js';
export { dataUriEncoder, encodeOutput, type FileEncoder } from './output.js';
export { cogYamlSchema, readConfig, type CogConfig, type CogYaml } from './config.js';
export { createApp, serve, serveFromConfig, type AppSettings, type CogApp, type CogServer, type ServeOptions, type ServeSource } from './server/index.js';
