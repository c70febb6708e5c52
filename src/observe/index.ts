// Observability's face: the /metrics registry, the probes, tracing and the trace context a queued
// job carries (for `serve`, the gateway and the queue worker alike).
export { CogMetrics, metricsHandler, type CogMetricsOptions, type LoadSource } from './metrics.js';
export { registerProbes, serviceProbes, type ProbeAnswer, type ProbeSource } from './probes.js';
export { CogTracing } from './tracing.js';
export {
  callerAttributes,
  extractTraceCarrier,
  injectTraceCarrier,
  traceCarrierFrom,
  validTraceparent,
  type TraceCarrier,
} from './trace-context.js';
