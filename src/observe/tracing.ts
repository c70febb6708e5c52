// Tracing as Cog 0.23: each prediction becomes `cog.prediction` (`cog.train` for a training) with
// `.validate`, `.execute` (holding `.prepare_input` and `.invoke`) and `.upload_output`, continuing
// the caller's W3C `traceparent`; each setup is `cog.setup`. This observer only notes times (no
// OpenTelemetry here); the spans are written when a prediction ends, by otel.ts, which is imported
// once tracing is on, so a server without tracing never loads the SDK.
import type { TracingPlan } from '../load/plan.js';
import type { Prediction } from '../runtime/prediction.js';
import type { PredictionPhase, PredictorRuntime, RuntimeObserver, SetupState, TraceCarrier } from '../runtime/runtime.js';
import { errorMessage } from '../runtime/executor.js';
import { callerAttributes } from './trace-context.js';

/** One span to write, with its children; times are epoch milliseconds. */
export interface SpanRecord {
  name: string;
  start: number;
  end: number;
  attributes?: Record<string, string | number | boolean>;
  /** Ends with an error status and this message. */
  error?: string;
  /** The span that received the request (kind SERVER). */
  server?: boolean;
  children?: SpanRecord[];
}

/** What otel.ts gives: writes a span tree under the caller's context, and flushes at the end. */
export interface SpanWriter {
  write(record: SpanRecord, carrier: TraceCarrier | undefined): void;
  shutdown(): Promise<void>;
}

/** `performance.now()` ms as epoch ms. */
const epoch = (ms: number) => performance.timeOrigin + ms;

/** The times noted for one prediction until it ends. */
interface Noted {
  kind: 'predict' | 'train';
  trace: TraceCarrier | undefined;
  phases: Partial<Record<PredictionPhase, [number, number]>>;
  startedMs?: number;
}

/**
 * Tracing for a server's runtimes (`watch`), writing through the SDK once it has loaded. Spans
 * are written when their prediction ends (OpenTelemetry takes start and end times), so nothing
 * in a prediction's path waits for the SDK.
 */
export class CogTracing implements RuntimeObserver {
  readonly #writer: Promise<SpanWriter | undefined>;
  readonly #noted = new WeakMap<Prediction, Noted>();

  constructor(plan: Extract<TracingPlan, { enabled: true }>) {
    this.#writer = import('./otel.js').then(
      ({ createSpanWriter }) => createSpanWriter(plan),
      (error: unknown) => {
        process.emitWarning(`cog-node: tracing is off, the OpenTelemetry SDK did not load: ${errorMessage(error)}`);
        return undefined;
      },
    );
  }

  /** Traces a runtime's predictions and setups; returns what stops it. */
  watch(runtime: PredictorRuntime): () => void {
    // A setup that ended before this was called is told now (the runtime told nobody yet).
    if (runtime.setupState.status !== 'starting') this.setupEnded(runtime.setupState);
    return runtime.observe(this);
  }

  admitted(prediction: Prediction, detail: { kind: 'predict' | 'train'; trace: TraceCarrier | undefined }): void {
    const noted: Noted = { kind: detail.kind, trace: detail.trace, phases: {} };
    this.#noted.set(prediction, noted);
    prediction.once('start', () => {
      noted.startedMs = performance.now();
    });
    void prediction.done.then(() => this.#ended(prediction, noted, performance.now()));
  }

  phase(prediction: Prediction, phase: PredictionPhase, fromMs: number, toMs: number): void {
    const noted = this.#noted.get(prediction);
    if (noted !== undefined) noted.phases[phase] = [fromMs, toMs];
  }

  setupEnded(state: Readonly<SetupState>): void {
    const start = Date.parse(state.started_at);
    const end = Date.parse(state.completed_at ?? state.started_at);
    void this.#write({ name: 'cog.setup', start, end, attributes: { 'cog.setup.status': state.status }, error: state.error }, undefined);
  }

  #ended(prediction: Prediction, noted: Noted, endMs: number): void {
    const root = noted.kind === 'train' ? 'cog.train' : 'cog.prediction';
    const span = (phase: PredictionPhase): SpanRecord | undefined => {
      const times = noted.phases[phase];
      return times === undefined ? undefined : { name: `${root}.${phase}`, start: epoch(times[0]), end: epoch(times[1]) };
    };
    const validate = span('validate');
    const prepare = span('prepare_input');
    const invoke = span('invoke');
    const upload = span('upload_output');
    const children: SpanRecord[] = [];
    if (validate !== undefined) children.push(validate);
    if (noted.startedMs !== undefined) {
      const inner = [prepare, invoke].filter((record): record is SpanRecord => record !== undefined);
      const executeEnd = inner.length > 0 ? Math.max(...inner.map((record) => record.end)) : epoch(endMs);
      children.push({ name: `${root}.execute`, start: epoch(noted.startedMs), end: executeEnd, children: inner });
    }
    if (upload !== undefined) children.push(upload);
    const attributes: Record<string, string | number | boolean> = {
      ...callerAttributes(prediction.context),
      'cog.prediction.id': prediction.id,
      'cog.prediction.status': prediction.status,
    };
    const queueTime = prediction.metrics.queue_time;
    if (typeof queueTime === 'number') attributes['cog.prediction.queue_time'] = queueTime;
    const start = validate?.start ?? prediction.createdAt.getTime();
    void this.#write(
      {
        name: root,
        start,
        end: Math.max(start, epoch(endMs)),
        server: true,
        attributes,
        error: prediction.status === 'failed' ? (prediction.error ?? 'failed') : undefined,
        children,
      },
      noted.trace,
    );
  }

  async #write(record: SpanRecord, carrier: TraceCarrier | undefined): Promise<void> {
    try {
      (await this.#writer)?.write(record, carrier);
    } catch (error) {
      process.emitWarning(`cog-node: a trace could not be written: ${errorMessage(error)}`);
    }
  }

  /** Sends what is left to the collector (best effort) and stops. */
  async shutdown(): Promise<void> {
    await (await this.#writer)?.shutdown().catch(() => undefined);
  }
}

/** A URL as logged: without its userinfo and query. */
function shownUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return '(an invalid URL)';
  }
}

/**
 * The tracing a process (`serve`, `cog-node worker`) runs under its plan, or undefined when off;
 * says so through `log` when it is on, or was asked for and something turned it off.
 */
export function startTracing(plan: TracingPlan, log: (line: string) => void): CogTracing | undefined {
  if (plan.enabled) {
    log(`tracing: spans to ${shownUrl(plan.url)} (sampler ${plan.sampler})`);
    return new CogTracing(plan);
  }
  if (!plan.why.startsWith('not enabled')) log(`tracing off: ${plan.why}`);
  return undefined;
}
