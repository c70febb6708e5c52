// cog-node's public API: write a predictor, describe its inputs, run it (CLI, HTTP, embedded).
export * from './predictor-api.js';
export { loadPredictor, LoadedPredictor, type LoadOptions, type PredictOptions } from './embed.js';
export { Prediction, type PredictionResponse, type PredictionStatus } from './runtime/prediction.js';
export { PredictorRuntime, type RuntimeOptions, type RuntimeObserver, type PredictionPhase, type TraceCarrier } from './runtime/runtime.js';
export {
  CogMetrics,
  CogTracing,
  metricsHandler,
  registerProbes,
  serviceProbes,
  traceCarrierFrom,
  injectTraceCarrier,
  extractTraceCarrier,
  type CogMetricsOptions,
  type LoadSource,
  type ProbeAnswer,
  type ProbeSource,
} from './observe/index.js';
export { openApiSchema } from './schema/openapi.js';
export { dataUriEncoder, encodeOutput, type FileEncoder } from './runtime/output-files.js';
export { cogYamlSchema, readConfig, type CogConfig, type CogYaml } from './load/cog-yaml.js';
export {
  createApp,
  serve,
  serveFromConfig,
  type AppSettings,
  type CogApp,
  type CogServer,
  type ServeOptions,
  type ServeSource,
} from './server/index.js';
export * from './fleet/index.js';
