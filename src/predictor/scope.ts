// A running prediction as its predictor sees it (`this.scope`): metrics, the request's context and
// cancellation, found through the prediction's async context (async-context.ts); in `predictBatch`, the batch's scope (BatchScope)
// with one scope per item; outside any prediction, a scope that does nothing.
import { currentContext, runInContext } from './async-context.js';
import { hasOwnKeys } from '../runtime/copy-on-change.js';
import { cancelTokenCancel, cancelTokenCanceled, cancelTokenOf, type CancelToken } from '../native/addon.js';
import { CancelationError } from '../errors.js';
import { MetricsStore, type MetricValue, type MetricsObject } from './metrics.js';

/**
 * Dict-style access to a prediction's metrics, as Cog's `scope.metrics`:
 * `scope.metrics.steps = 3`, `delete scope.metrics.steps`, `scope.metrics.record(k, v, mode)`.
 */
export interface MetricRecorder {
  record(key: string, value: MetricValue | null, mode?: 'replace' | 'incr' | 'increment' | 'append'): void;
  delete(key: string): void;
  toJSON(): MetricsObject;
  [key: string]: unknown;
}

/** The running prediction, as the predictor sees it through `this.scope`. */
export interface Scope {
  readonly metrics: MetricRecorder;
  recordMetric(key: string, value: MetricValue | null, mode?: 'replace' | 'incr' | 'increment' | 'append'): void;
  /** The request's `context` (an object of strings); `{}` when none was sent. */
  readonly context: Readonly<Record<string, string>>;
  /** Aborts when the prediction is cancelled. */
  readonly signal: AbortSignal;
  /** True once cancellation was requested; a synchronous read, also inside a busy loop. */
  readonly canceled: boolean;
  /** Throws `CancelationError` if the prediction was cancelled. */
  throwIfCanceled(): void;
  /** The native token Rust work started for this prediction obeys (null outside a prediction). */
  readonly cancelToken: CancelToken | null;
  /**
   * In `predictBatch`: one scope per prediction of the batch, in input order (its own
   * `canceled`, `signal`, `recordMetric`, `context`). A single prediction's is `[itself]`;
   * outside any prediction, `[]`.
   */
  readonly items: readonly Scope[];
}

export interface MetricEvent {
  name: string;
  value: MetricValue | null;
  mode: 'replace' | 'increment' | 'append';
}

function recorderFor(store: MetricsStore, record: Scope['recordMetric']): MetricRecorder {
  const methods: Record<string, unknown> = {
    record,
    delete: (key: string) => record(key, null, 'replace'),
    toJSON: () => store.toJSON(),
  };
  return new Proxy(methods, {
    get: (target, key) => (typeof key === 'string' && !(key in target) ? store.get(key) : Reflect.get(target, key)),
    set: (_target, key, value) => {
      record(String(key), value as MetricValue, 'replace');
      return true;
    },
    deleteProperty: (_target, key) => {
      record(String(key), null, 'replace');
      return true;
    },
    has: (_target, key) => typeof key === 'string' && store.get(key) !== undefined,
    ownKeys: () => Object.keys(store.toJSON()),
    getOwnPropertyDescriptor: (_target, key) => {
      const value = typeof key === 'string' ? store.get(key) : undefined;
      return value === undefined ? undefined : { value, enumerable: true, configurable: true, writable: true };
    },
  }) as MetricRecorder;
}

/** The context of a prediction whose request sent none: one frozen object for all of them. */
const NO_CONTEXT: Readonly<Record<string, string>> = Object.freeze({});

/** The scope of one prediction. The runner owns it; the predictor sees it as `Scope`. */
export class PredictionScope implements Scope {
  readonly metricsStore = new MetricsStore();
  /** Made on first use: most predictors never look, and its Proxy and closures are a prediction's largest allocation. */
  #metrics: MetricRecorder | undefined;
  readonly context: Readonly<Record<string, string>>;
  /** The prediction's token by id (prediction.ts `tokenId`): its object is made only if asked for. */
  readonly #tokenId: number;
  #cancelToken: CancelToken | undefined;
  #abort: AbortController | undefined;
  #cancelRequested = false;
  readonly #onMetric: ((event: MetricEvent) => void) | undefined;

  constructor(options: {
    context?: Record<string, string>;
    /** The token, or its id in the process-wide table (what a prediction's job carries). */
    cancelToken: CancelToken | number;
    onMetric?: (event: MetricEvent) => void;
  }) {
    this.context = hasOwnKeys(options.context) ? Object.freeze({ ...options.context }) : NO_CONTEXT;
    const token = options.cancelToken;
    if (typeof token === 'number') this.#tokenId = token;
    else {
      this.#tokenId = token.id;
      this.#cancelToken = token;
    }
    this.#onMetric = options.onMetric;
  }

  get metrics(): MetricRecorder {
    return (this.#metrics ??= recorderFor(this.metricsStore, (key, value, mode) => this.recordMetric(key, value, mode)));
  }

  /** The prediction's token's id (the key its executor knows it by). */
  get tokenId(): number {
    return this.#tokenId;
  }

  recordMetric(key: string, value: MetricValue | null, mode?: 'replace' | 'incr' | 'increment' | 'append'): void {
    const applied = this.metricsStore.record(key, value, mode);
    this.#onMetric?.({ name: key, value, mode: applied === 'incr' ? 'increment' : applied });
  }

  get signal(): AbortSignal {
    // Made on demand (most predictors never look); born aborted when the token already is.
    if (this.#abort === undefined) {
      this.#abort = new AbortController();
      if (this.canceled) this.#abort.abort(new CancelationError());
    }
    return this.#abort.signal;
  }

  /** The native token Rust work obeys (made on first use: most predictors never hand it on). */
  get cancelToken(): CancelToken {
    return (this.#cancelToken ??= cancelTokenOf(this.#tokenId, this.#cancelRequested));
  }

  get canceled(): boolean {
    if (this.#cancelRequested) return true;
    // By id while no object was asked for: ~40 ns against the object's getter's ~340. (A released
    // id reads false: the prediction has ended, and a cancel before that set `#cancelRequested`.)
    const token = this.#cancelToken;
    return token !== undefined ? token.canceled : cancelTokenCanceled(this.#tokenId);
  }

  /**
   * True once `cancel()` was called on this thread: a plain JS read, where `canceled` (which also
   * sees a cancel from another thread) is an N-API call.
   */
  get cancelRequested(): boolean {
    return this.#cancelRequested;
  }

  get items(): readonly Scope[] {
    return [this];
  }

  throwIfCanceled(): void {
    if (this.canceled) throw new CancelationError();
  }

  /**
   * Cancels the token (a no-op when another thread already has) and aborts the signal, on the
   * thread that runs the predictor.
   */
  cancel(): void {
    this.#cancelRequested = true;
    if (this.#cancelToken !== undefined) this.#cancelToken.cancel();
    else cancelTokenCancel(this.#tokenId);
    if (this.#abort !== undefined && !this.#abort.signal.aborted) this.#abort.abort(new CancelationError());
  }
}

/**
 * The scope `predictBatch` runs in: what it records goes to every item's metrics; it is
 * cancelled only once every item is (its `signal` aborts then, and its own `cancelToken`, which
 * Rust work for the whole batch obeys, is cancelled). `items` are the predictions' own scopes.
 */
export class BatchScope implements Scope {
  readonly items: readonly PredictionScope[];
  readonly metrics: MetricRecorder;
  /** The batch as a whole has no request: each item's context is in `items[i].context`. */
  readonly context: Readonly<Record<string, string>> = Object.freeze({});
  readonly cancelToken: CancelToken;
  readonly #store = new MetricsStore();
  #abort: AbortController | undefined;

  constructor(items: readonly PredictionScope[], cancelToken: CancelToken) {
    this.items = items;
    this.cancelToken = cancelToken;
    // Reading the batch's own metrics shows what the batch recorded (every item has it too).
    this.metrics = recorderFor(this.#store, (key, value, mode) => this.recordMetric(key, value, mode));
  }

  recordMetric(key: string, value: MetricValue | null, mode?: 'replace' | 'incr' | 'increment' | 'append'): void {
    // Checked once (a bad name throws before any item has it), then applied to each item.
    this.#store.record(key, value, mode);
    for (const item of this.items) item.recordMetric(key, value, mode);
  }

  get signal(): AbortSignal {
    if (this.#abort === undefined) {
      this.#abort = new AbortController();
      if (this.canceled) this.#abort.abort(new CancelationError());
    }
    return this.#abort.signal;
  }

  /** True once every item was cancelled (a synchronous read of their tokens). */
  get canceled(): boolean {
    return this.items.every((item) => item.canceled);
  }

  throwIfCanceled(): void {
    if (this.canceled) throw new CancelationError();
  }

  /** An item was cancelled: when it was the last one, cancel the batch (token and signal). */
  itemCanceled(): void {
    if (!this.canceled) return;
    this.cancelToken.cancel();
    if (this.#abort !== undefined && !this.#abort.signal.aborted) this.#abort.abort(new CancelationError());
  }
}

const neverAborted = new AbortController().signal;

/** Outside a prediction: silently ignores everything, as Cog's no-op scope. */
const noopMetrics = new Proxy({ record: () => undefined, delete: () => undefined, toJSON: () => ({}) } as Record<string, unknown>, {
  get: (target, key) => Reflect.get(target, key),
  set: () => true,
  deleteProperty: () => true,
  // Like a real scope's metrics: its keys are the metrics (none), not its methods.
  has: () => false,
  ownKeys: () => [],
}) as MetricRecorder;

export const noopScope: Scope = Object.freeze({
  metrics: noopMetrics,
  recordMetric: () => undefined,
  context: Object.freeze({}),
  signal: neverAborted,
  canceled: false,
  throwIfCanceled: () => undefined,
  cancelToken: null,
  items: Object.freeze([]),
});

/** The running prediction's scope, or the no-op scope outside one. */
export function currentScope(): Scope {
  return currentContext()?.scope ?? noopScope;
}

/** Runs `fn` in `scope`; where its logs go (log-capture.ts) stays as it was. */
export function runInScope<T>(scope: Scope, fn: () => T): T {
  return runInContext({ scope, capture: currentContext()?.capture }, fn);
}
