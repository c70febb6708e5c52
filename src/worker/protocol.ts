// The messages between the server's thread (host.ts) and the predictor's worker (thread.ts).
import type { ExecutionResult } from '../executor.js';
import type { PredictorInfo } from '../loader.js';
import type { LogSource } from '../logs.js';
import type { MetricsObject } from '../metrics.js';
import type { MetricEvent } from '../scope.js';

export interface WorkerOptions {
  ref: string;
  cwd: string;
  kind: 'predict' | 'train';
  echoLogs: boolean;
}

export type ToWorker =
  | { type: 'setup'; weights: string | undefined }
  | { type: 'predict'; id: string; input: unknown; context: Record<string, string>; tokenId: number }
  | { type: 'cancel'; id: string }
  | { type: 'ack'; id: string; count: number }
  | { type: 'healthcheck'; seq: number };

export type FromWorker =
  | { type: 'loaded'; info: PredictorInfo }
  | { type: 'load-failed'; error: string; stack: string }
  | { type: 'setup-log'; text: string; source: LogSource }
  | { type: 'setup-done'; error?: string; stack?: string }
  | { type: 'output'; id: string; item: unknown }
  | { type: 'log'; id: string; text: string; source: LogSource }
  | { type: 'metric'; id: string; event: MetricEvent; metrics: MetricsObject }
  | { type: 'done'; id: string; result: ExecutionResult }
  | { type: 'healthcheck-result'; seq: number; healthy: boolean; error?: string };

/** Output items a worker may send before the host has taken them (backpressure window). */
export const OUTPUT_WINDOW = 64;
