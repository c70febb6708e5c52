// PredictorRuntime: the single owner of prediction state, for the HTTP server, the CLI and
// embedding apps alike. It alone holds, per runtime: the map of predictions in flight
// (`#inFlight`, each entry with its slot, its caller's signal and its one cancel timer), the slot
// count (the native `PredictionAdmission`'s slots: a slot outlives its map entry while abandoned work still
// runs, so the map's size is not the count), and the health (`health`, from the setup state and
// `#defunct`). Executors keep only their transport's bookkeeping, keyed by the prediction's cancel
// token id; the HTTP service keeps only webhooks and its shutdown flag, and asks here what is in
// flight.
//
// A prediction moves `starting` → `processing` → one of `succeeded` | `failed` | `canceled`, once:
// `Prediction.finish` ignores every call after the first, and nothing leaves a terminal status.
// Side effects fire from `Prediction`'s own mutations (`markStarted`, `addOutput`, `addLog`,
// `addMetric`, `finish`), which publish its stream events and the events that webhooks follow;
// whatever the predictor's code says after the end goes nowhere. Cancelling has one path:
// `Prediction.cancel()` (from `cancel(id)`, a caller's signal, a hang-up or shutdown) cancels the
// token, aborts the prediction's own signal and calls back here (`#canceled`), which tells the
// executor (`cancel`) and starts the one timer: ABANDON_AFTER_MS, then the grace period, past
// which the executor stops the code if it can (`stop`: a worker is replaced). Output: the sink
// carries streamed items only; a single value travels once, in the execution's result, and is
// encoded here once, as the one `output` event and the output. Observers (metrics, tracing: see
// `RuntimeObserver`) are told of admissions, run phases, setups and worker restarts; they keep no
// prediction state of their own beyond what they measure.
import { checkDeclaration, type CheckedDeclaration } from '../schema/declaration.js';
import { AtCapacityError, NotReadyError, QueueFullError } from '../errors.js';
import { InProcessExecutor, errorMessage, type ExecutionResult, type ExecutionSink, type PredictorExecutor } from './executor.js';
import { InputFiles, hasFileInputs } from './input-files.js';
import type { LoadedTarget, PredictorInfo } from '../load/load-module.js';
import type { LogSource } from './log-capture.js';
import { PredictionAdmission, PredictionSlot, WaitingTicket, admissionAdmitNow, admissionReleaseHandle } from '../native/addon.js';
import { BatchFormer, type BatchHost, type BatchPlace, type Execute } from './batching.js';
import { encodeOutput, type FileEncoder } from './output-files.js';
import { Prediction, generatePredictionId, type PredictionResponse, type PredictionRunner } from './prediction.js';
import type { MetricsObject } from '../predictor/metrics.js';
import type { MetricEvent } from '../predictor/scope.js';
import { RetentionStore } from './retention.js';
import { KeyedTable, keyHash } from './keyed-table.js';
import { TAKEN } from './events.js';
import { currentScope } from '../predictor/scope.js';
import { currentSettings } from '../load/settings.js';
import { InputValidator, type ValidateOptions } from '../schema/input-validator.js';
import { WorkerExecutor, type WorkerDeath } from './worker/host.js';
import { InstancePool } from './worker/pool.js';

/**
 * How long a cancelled async prediction gets to stop on its own (its cleanup logs kept, its slot
 * free when it ends) before it ends `canceled` without it. A prediction that obeys its signal
 * stops within a few ms, even in a worker thread (a message each way).
 */
const ABANDON_AFTER_MS = 100;

/** Awaited where a step may be async: one microtask, no allocation. */
const SETTLED = Promise.resolve();

export type SetupStatus = 'starting' | 'succeeded' | 'failed';

export interface SetupState {
  status: SetupStatus;
  started_at: string;
  completed_at?: string;
  logs: string;
  error?: string;
}

export interface RuntimeOptions {
  /**
   * Predictions in flight at once; more than 1 needs an async `predict`. Unset: the predictor's
   * own `static concurrency = { max }`, else 1.
   */
  concurrency?: number;
  /** Passed to `setup(weights)`; defaults to `COG_WEIGHTS`. */
  weights?: string;
  /** Fail setup after this many seconds (`COG_SETUP_TIMEOUT`); 0 or unset: no limit. */
  setupTimeout?: number;
  /** Also print what the predictor logs (the CLI does). */
  echoLogs?: boolean;
  /** Seconds a cancelled prediction may run on before it is stopped (`COG_CANCEL_GRACE_PERIOD`, 30). */
  cancelGracePeriod?: number;
  /** The worker thread's JS heap limit in MB (`COG_WORKER_MAX_HEAP_MB`); 0: V8's own. */
  workerMaxHeapMb?: number;
  /** Model instances, each a worker thread with its own `setup()` (`COG_INSTANCES`, default 1). */
  instances?: number;
  /** Predictions that may wait for a slot (`COG_QUEUE_MAX`); 0 (default): Cog's 409 at capacity. */
  queueMax?: number;
  /** Seconds from creation (waiting and running) before a prediction fails (`COG_PREDICT_TIMEOUT`). */
  predictTimeout?: number;
  /** Finished predictions kept for polling: at most `count` (default 1000) for `seconds` (600). */
  retention?: { count: number; seconds: number };
}

/** A phase of one prediction, as tracing names them (`cog.prediction.<phase>`). */
export type PredictionPhase = 'validate' | 'prepare_input' | 'invoke' | 'upload_output';

/** W3C trace context (the `traceparent`/`tracestate` headers) a prediction continues. */
export interface TraceCarrier {
  traceparent?: string;
  tracestate?: string;
}

/**
 * What a runtime tells whoever watches it (the /metrics registry, tracing), in its own order:
 * `admitted` once per prediction (then its own events say the rest), `phase` as each phase of its
 * run ends (times are `performance.now()` ms), `batchRan` per call of the predictor's code, `ended`
 * once per prediction as it reaches its terminal status (before anyone awaiting `done` runs),
 * `setupEnded` after each setup, `workerRestarted` when a worker is replaced. An observer's exception is its own: it never fails a prediction.
 */
export interface RuntimeObserver {
  admitted?(prediction: Prediction, detail: { kind: 'predict' | 'train'; trace: TraceCarrier | undefined }): void;
  phase?(prediction: Prediction, phase: PredictionPhase, fromMs: number, toMs: number): void;
  setupEnded?(state: Readonly<SetupState>, kind: 'predict' | 'train'): void;
  workerRestarted?(reason: WorkerDeath): void;
  /** The predictor's code was called for `size` predictions at once (1 without batching). */
  batchRan?(size: number): void;
  /** It ended, with this terminal response (told here: a `done.then` per prediction cost a promise and a closure). */
  ended?(prediction: Prediction, response: PredictionResponse): void;
}

export interface StartOptions {
  id?: string;
  /** The caller's trace context (an HTTP request's, a queued job's): tracing continues it. */
  trace?: TraceCarrier;
  context?: Record<string, string>;
  /** Aborting it cancels the prediction. */
  signal?: AbortSignal;
  /** How output files become wire values; default: keep them as `Path` objects. */
  encodeFile?: FileEncoder;
  validate?: ValidateOptions;
  /** When the prediction was created, if before now (a queued one: when it was submitted). */
  createdAt?: Date;
}

/** What an entry calls back in its runtime: made once per runtime, not as closures per prediction. */
interface EntryHooks {
  canceled(entry: InFlight): void;
  finished(entry: InFlight): void;
}

/**
 * A free slot taken by its handle (`admissionAdmitNow`), given back through the admission's id: an
 * object of two numbers, where a closure per prediction held them before.
 */
class HandleSlot {
  readonly #admissionId: number;
  readonly #handle: number;

  constructor(admissionId: number, handle: number) {
    this.#admissionId = admissionId;
    this.#handle = handle;
  }

  release(): void {
    admissionReleaseHandle(this.#admissionId, this.#handle);
  }
}

/**
 * A prediction in flight, as the runtime keeps it (the one entry per prediction). It is its
 * prediction's runner (`PredictionRunner`) itself: the runner object and the closures an entry
 * held (the runner's two, the slot's, `abandon`, the abort listener) were six allocations a
 * prediction.
 */
class InFlight implements PredictionRunner {
  /** Set right after the entry is made (the prediction takes the entry as its runner). */
  prediction!: Prediction;
  /** Its id's `keyHash`: the in-flight table and retention key on the id, hashed once. */
  idHash = 0;
  /** Its slot: undefined while it waits in the line (`ticket`), or for setup to finish again. */
  slot: { release(): void } | undefined = undefined;
  /** Its place in the admission line, while it waits for a slot. */
  ticket: WaitingTicket | undefined;
  /**
   * Set when its code began to run (undefined: it never ran): `performance.now()` where the run
   * time is recorded (it feeds only a 429's `Retry-After`: `#recordsRuns`), else 0.
   */
  ranFromMs: number | undefined = undefined;
  /** `predict_timeout`'s timer, from creation (waiting and running). */
  deadline: NodeJS.Timeout | undefined = undefined;
  /** A batching predictor's prediction: its key in the batch former (batching.ts). */
  batch: BatchPlace | undefined = undefined;
  /**
   * The slot is free once the prediction has ended and so has its code (`workEnded`): a
   * cancelled async prediction ends at once, but the work it abandoned holds the slot until it
   * settles or the grace period stops it, so the concurrency limit stays true.
   */
  ended = false;
  workEnded = false;
  /** The one timer, started by a cancel: ABANDON_AFTER_MS, then the rest of the grace period. */
  timer: NodeJS.Timeout | undefined = undefined;
  /** Abandoned (ABANDON_AFTER_MS after a cancel): an async prediction then ends `canceled`. */
  abandoned = false;
  /** What `#run` waits on besides the execution, once it waits: told the `canceled` result. */
  onAbandon: ((result: ExecutionResult) => void) | undefined = undefined;
  /** The caller's signal (`StartOptions.signal`), listened to until the prediction ends. */
  readonly signal: AbortSignal | undefined;
  /** Its listener on `signal` (made only when there is one). */
  readonly onAbort: (() => void) | undefined;
  readonly #hooks: EntryHooks;

  constructor(hooks: EntryHooks, ticket: WaitingTicket | undefined, signal: AbortSignal | undefined) {
    this.#hooks = hooks;
    this.ticket = ticket;
    this.signal = signal;
    this.onAbort = signal === undefined ? undefined : () => this.prediction.cancel();
  }

  /** PredictionRunner: a cancel was requested. */
  cancel(): void {
    this.#hooks.canceled(this);
  }

  /** PredictionRunner: the prediction has ended. */
  finished(): void {
    this.#hooks.finished(this);
  }

  /** Ends it `canceled` at once, its work abandoned (an async prediction, a batch's item). */
  abandon(): void {
    this.abandoned = true;
    this.onAbandon?.({ status: 'canceled', metrics: this.prediction.metrics });
  }
}

/** Whether a value is written as it is, with nothing to encode (most streamed tokens). */
function plain(value: unknown): boolean {
  return value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

/** An output value as the wire takes it: files encoded by `encodeFile` (maybe async), the rest as it is. */
function encodeWith(value: unknown, encodeFile: FileEncoder | undefined): unknown {
  return encodeFile && !plain(value) ? encodeOutput(value, encodeFile) : value;
}

/**
 * Where the executor puts what a running prediction says: one object per prediction, where an
 * object of four closures (and two more for the encoding) was made before. What abandoned work
 * (a cancelled async prediction) says after the end goes nowhere.
 */
class PredictionSink implements ExecutionSink {
  readonly #prediction: Prediction;
  readonly #encodeFile: FileEncoder | undefined;

  constructor(prediction: Prediction, encodeFile: FileEncoder | undefined) {
    this.#prediction = prediction;
    this.#encodeFile = encodeFile;
  }

  // Not async: a plain item (a token) is added without a promise of this function's own.
  output(item: unknown): void | Promise<void> {
    const prediction = this.#prediction;
    if (prediction.terminal) return undefined;
    const encoded = encodeWith(item, this.#encodeFile);
    return encoded instanceof Promise ? encoded.then((value) => prediction.addOutput(value)) : prediction.addOutput(encoded);
  }

  outputs(items: readonly unknown[]): void | Promise<void> {
    const prediction = this.#prediction;
    if (prediction.terminal) return;
    // Nothing to encode (tokens): the whole batch at once, without a promise per item.
    if (this.#encodeFile === undefined || items.every(plain)) return prediction.addOutputs(items);
    return (async () => {
      // One by one, as `output` would be called: an item that fails (its upload) does
      // not keep the items after it from being taken.
      for (const item of items) {
        try {
          await this.output(item);
        } catch {
          // The host would have dropped it too (see WorkerExecutor's 'outputs').
        }
      }
    })();
  }

  log(text: string, source: LogSource): void {
    if (!this.#prediction.terminal) this.#prediction.addLog(text, source);
  }

  metric(event: MetricEvent, metrics: MetricsObject): void {
    if (!this.#prediction.terminal) this.#prediction.addMetric(event, metrics);
  }
}

/** Every event an observer may take (`RuntimeObserver`'s methods: the record makes the list whole). */
const OBSERVED = Object.keys({
  admitted: true,
  phase: true,
  setupEnded: true,
  workerRestarted: true,
  batchRan: true,
  ended: true,
} satisfies Record<keyof RuntimeObserver, true>) as (keyof RuntimeObserver)[];

/** What loading a predictor gives the runtime, all at once. */
interface Loaded {
  info: PredictorInfo;
  /** Whether an input is a file (`#run` then fetches and cleans up input files). */
  fileInputs: boolean;
  /**
   * Whether the predictor's code runs in worker threads: its input then travels as a copy
   * (structured clone), so `#run` does not copy it first.
   */
  inWorker: boolean;
  declaration: CheckedDeclaration;
  validator: InputValidator;
  executor: PredictorExecutor;
}

/**
 * A loaded predictor, set up once, running predictions: validation, input files, concurrency
 * slots, scope, logs, metrics, output encoding and cancellation. The HTTP server, the CLI and
 * embedding apps all drive predictions through it.
 */
export class PredictorRuntime {
  readonly kind: 'predict' | 'train';
  /** The slots and the first-in-first-out line in front of them (crates/core queue.rs). */
  #admission: PredictionAdmission;
  /** `#admission.id`, read once: a free slot is taken and given back through it (`admissionAdmitNow`). */
  #admissionId: number;
  /** Granted predictions waiting for a replaced worker's setup to finish before they run. */
  #afterSetup: (() => void)[] = [];
  /** The current (or last) setup: a restarted worker runs setup again, with a new state. */
  setupState: SetupState;
  /** Settles when the first setup has finished; rejects when it failed. */
  readonly ready: Promise<void>;
  readonly #options: RuntimeOptions;
  /** The one map of predictions in flight, by id: an entry goes when its prediction ends. */
  readonly #inFlight = new KeyedTable<string, InFlight>();
  /** What loading gave: set once the code has loaded (setup may still be running). */
  #loaded: Loaded | undefined;
  /** Why health says DEFUNCT: an error escaped user code (for good), or the worker crashed (until replaced). */
  #defunct: { reason: string; forGood: boolean } | undefined;
  /** How long a cancelled prediction may run on before it is stopped (ms). */
  readonly #cancelGraceMs: number;
  readonly #observers = new Set<RuntimeObserver>();
  /**
   * The observers that take each event, rebuilt by `observe`: a prediction's path skips the
   * events nobody takes (the server's metrics take `ended` and `batchRan`; `admitted` and the
   * phases, with their `performance.now()` pairs, only tracing takes).
   */
  #listeners: { [K in keyof RuntimeObserver]?: RuntimeObserver[] } = {};
  /** `canceled` and `finished` for this runtime's entries (InFlight), made once. */
  readonly #hooks: EntryHooks = {
    canceled: (entry) => this.#canceled(entry),
    finished: (entry) => this.#finished(entry),
  };
  /** Finished predictions kept for polling (`poll`), by count, age and size: see retention.ts. */
  readonly #retained: RetentionStore;
  /** A batching predictor's batch former (`static batch`, batching.ts); undefined for any other. */
  #batches: BatchFormer<InFlight> | undefined;
  /** Whether predictions may wait in a line (`queueMax` > 0): only then is a `Retry-After` ever given. */
  readonly #recordsRuns: boolean;

  /**
   * Runs a predictor already loaded in this thread (`options.executor` may say where its code
   * runs instead), or, given `{ ref, cwd }`, loads it in a worker thread: see `launch`.
   */
  constructor(
    source: (PredictorInfo & { instance?: LoadedTarget['instance'] }) | { ref: string; cwd: string },
    kind: 'predict' | 'train',
    options: RuntimeOptions & { executor?: PredictorExecutor } = {},
  ) {
    this.kind = kind;
    this.#options = options;
    this.#admission = new PredictionAdmission(Math.max(1, options.concurrency ?? 1), options.queueMax ?? 0);
    this.#admissionId = this.#admission.id;
    this.#recordsRuns = (options.queueMax ?? 0) > 0;
    this.setupState = { status: 'starting', started_at: new Date().toISOString(), logs: '' };
    this.#cancelGraceMs = (options.cancelGracePeriod ?? currentSettings().cancelGracePeriod) * 1000;
    const settings = currentSettings();
    this.#retained = new RetentionStore(
      options.retention ?? { count: settings.predictionRetention, seconds: settings.predictionRetentionSeconds },
    );
    if ('ref' in source) {
      this.ready = this.#launch(source.ref, source.cwd);
    } else {
      const executor =
        options.executor ?? (source.instance ? new InProcessExecutor(source as LoadedTarget, { echoLogs: options.echoLogs }) : undefined);
      if (executor === undefined) throw new TypeError('PredictorRuntime needs a loaded target or an executor');
      this.#load(source, executor);
      this.ready = this.#setup();
    }
    // Setup failure is a state (health says SETUP_FAILED), not an unhandled rejection.
    this.ready.catch(() => undefined);
  }

  /**
   * Starts a predictor by reference (`predict.ts:Predictor`) in a worker thread, so a busy
   * `predict` never stalls the caller's event loop. Returns at once: loading and setup go on
   * while `setupState` says `starting`.
   */
  static launch(ref: string, cwd: string, kind: 'predict' | 'train', options: RuntimeOptions = {}): PredictorRuntime {
    return new PredictorRuntime({ ref, cwd }, kind, options);
  }

  async #launch(ref: string, cwd: string): Promise<void> {
    const workerOptions = {
      ref,
      cwd,
      kind: this.kind,
      echoLogs: this.#options.echoLogs ?? false,
      maxHeapMb: this.#options.workerMaxHeapMb ?? currentSettings().workerMaxHeapMb,
    };
    let started: { executor: PredictorExecutor; info: PredictorInfo };
    try {
      // N > 1 model instances: a pool that replaces its own dead instances (we hear only when none is ready).
      const count = this.#instanceCount;
      if (count > 1) {
        const { pool, info } = await InstancePool.start({ ...workerOptions, count });
        pool.onReadiness = (ready, reason) => this.#instancesReady(ready, reason);
        pool.onReplaced = (reason) => this.#tell('workerRestarted', reason);
        started = { executor: pool, info };
      } else {
        const worker = await WorkerExecutor.start(workerOptions);
        worker.executor.onDeath = (reason) => void this.#restart(worker.executor, reason);
        started = worker;
      }
    } catch (error) {
      this.#failSetup(error);
      throw error;
    }
    this.#load(started.info, started.executor);
    await this.#setup();
  }

  /**
   * Model instances asked for (`concurrency.instances`, COG_INSTANCES). In the server's thread one
   * runs, but the sync rule in #setup counts these, so a cog.yaml that serves runs in `predict` too.
   */
  get #instanceCount(): number {
    return Math.max(1, this.#options.instances ?? 1);
  }

  /**
   * With N > 1 instances, one being replaced is the pool's business (health stays READY/BUSY);
   * only when none is ready does health say DEFUNCT, until one is ready again.
   */
  #instancesReady(ready: boolean, reason: string): void {
    if (this.#defunct?.forGood) return;
    this.#defunct = ready ? undefined : { reason, forGood: false };
  }

  /** With N > 1 instances: how many there are and how many take predictions now (health shows it). */
  get instances(): { count: number; ready: number } | undefined {
    const executor = this.#loaded?.executor;
    return executor instanceof InstancePool ? { count: executor.count, ready: executor.ready } : undefined;
  }

  #load(info: PredictorInfo, executor: PredictorExecutor): void {
    // Fails here, at load, when the schema cannot be expressed.
    const declaration = checkDeclaration({ [this.kind]: { inputs: info.inputs, output: info.output } });
    const validator = new InputValidator(declaration[this.kind]!.inputs);
    const inWorker = executor instanceof WorkerExecutor || executor instanceof InstancePool;
    this.#loaded = { info, fileInputs: hasFileInputs(info.inputs), inWorker, declaration, validator, executor };
    // The predictor's `static concurrency` is known only now (it may load in a worker).
    const capacity = Math.max(1, this.#options.concurrency ?? info.concurrency ?? 1);
    if (capacity !== this.#admission.capacity) {
      this.#admission = new PredictionAdmission(capacity, this.#options.queueMax ?? 0);
      this.#admissionId = this.#admission.id;
    }
    if (info.batch !== undefined) this.#batches = new BatchFormer(info.batch, this.#batchHost());
  }

  /** What the batch former (batching.ts) asks of this runtime. */
  #batchHost(): BatchHost<InFlight> {
    return {
      admission: () => this.#admission,
      isReady: () => this.isReady,
      executor: () => this.executor,
      cancelGraceMs: this.#cancelGraceMs,
      batchRan: (size) => this.#tell('batchRan', size),
      workEnded: (entry) => this.#workEnded(entry),
    };
  }

  /** Whether the predictor's code runs in worker threads (not in this one); false until loaded. */
  get runsInWorker(): boolean {
    return this.#loaded?.inWorker ?? false;
  }

  /** The prediction slots (concurrency): taken by each prediction until its code has ended. */
  get slots(): { readonly capacity: number; readonly inUse: number; readonly full: boolean } {
    return this.#admission;
  }

  /** The admission line: predictions waiting for a slot now, and how many may (`queue.max`). */
  get queue(): { waiting: number; max: number } {
    // A batching predictor's predictions wait in the batch former instead of the line.
    return { waiting: this.#admission.waiting + (this.#batches?.length ?? 0), max: this.#admission.maxWaiting };
  }

  /** Adds an observer (see `RuntimeObserver`); returns what removes it. */
  observe(observer: RuntimeObserver): () => void {
    this.#observers.add(observer);
    this.#listen();
    return () => {
      this.#observers.delete(observer);
      this.#listen();
    };
  }

  /** Rebuilds `#listeners` from `#observers` (in the order they were added). */
  #listen(): void {
    const listeners: { [K in keyof RuntimeObserver]?: RuntimeObserver[] } = {};
    for (const observer of this.#observers) {
      for (const event of OBSERVED) if (typeof observer[event] === 'function') (listeners[event] ??= []).push(observer);
    }
    this.#listeners = listeners;
  }

  /** Tells every observer that takes `event`; one that throws is logged, never the prediction's problem. */
  #tell<K extends keyof RuntimeObserver>(event: K, ...args: Parameters<NonNullable<RuntimeObserver[K]>>): void {
    const observers = this.#listeners[event];
    if (observers === undefined) return;
    for (const observer of observers) {
      try {
        (observer[event] as ((...a: typeof args) => void) | undefined)?.apply(observer, args);
      } catch (error) {
        process.emitWarning(`cog-node: a runtime observer's ${event} failed: ${errorMessage(error)}`);
      }
    }
  }

  /** A worker crashed or hung: say so in health, start a new one and run setup again. */
  async #restart(executor: WorkerExecutor, reason: WorkerDeath): Promise<void> {
    this.#tell('workerRestarted', reason);
    if (!this.#defunct?.forGood) {
      this.#defunct =
        reason === 'crashed' ? { reason: "the predictor's worker crashed; a new one is starting", forGood: false } : undefined;
    }
    this.setupState = { status: 'starting', started_at: new Date().toISOString(), logs: '' };
    try {
      await executor.restart();
      if (!this.#defunct?.forGood) this.#defunct = undefined;
      await this.#setup();
    } catch (error) {
      this.#failSetup(error);
    }
  }

  /** The predictor's declarations (inputs, output, name); undefined until it has loaded. */
  get target(): PredictorInfo {
    return this.#whenLoaded().info;
  }

  /** The declaration, checked at load: what the validator and the OpenAPI document are made from. */
  get declaration(): CheckedDeclaration {
    return this.#whenLoaded().declaration;
  }

  get validator(): InputValidator {
    return this.#whenLoaded().validator;
  }

  get executor(): PredictorExecutor {
    return this.#whenLoaded().executor;
  }

  #whenLoaded(): Loaded {
    if (this.#loaded === undefined) throw new NotReadyError();
    return this.#loaded;
  }

  /** Cog's health status, less BUSY and UNHEALTHY (the server adds those). */
  get health(): 'STARTING' | 'READY' | 'SETUP_FAILED' | 'DEFUNCT' {
    if (this.#defunct !== undefined) return 'DEFUNCT';
    if (this.setupState.status === 'failed') return 'SETUP_FAILED';
    return this.setupState.status === 'succeeded' ? 'READY' : 'STARTING';
  }

  #failSetup(error: unknown): void {
    const state = this.setupState;
    state.status = 'failed';
    state.error = errorMessage(error);
    state.logs += `${error instanceof Error && error.stack ? error.stack : state.error}\n`;
    state.completed_at = new Date().toISOString();
    this.#tell('setupEnded', state, this.kind);
    // Waiting predictions would wait for good: nothing runs them now.
    this.#afterSetup = [];
    for (const entry of this.#inFlight.values()) {
      if (entry.ranFromMs === undefined)
        this.#endUnstarted(entry, { status: 'failed', error: `Setup failed: ${state.error}`, metrics: {} });
    }
  }

  /** Ends a prediction that never ran (it waited for a slot, or for setup): no code holds its slot. */
  #endUnstarted(entry: InFlight, result: Parameters<Prediction['finish']>[0]): void {
    entry.workEnded = true;
    entry.prediction.finish(result);
  }

  async #setup(): Promise<void> {
    const options = this.#options;
    const state = this.setupState;
    const onLog = (text: string, _source: LogSource) => {
      state.logs += text;
    };
    try {
      const instances = this.#instanceCount;
      if (this.slots.capacity > instances && !this.target.isAsync) {
        // One sync prediction at a time per instance: more at once needs async code or instances.
        throw new Error(
          `COG_MAX_CONCURRENCY > ${instances === 1 ? '1' : 'COG_INSTANCES'} requires an async run() or predict() method, or as many ` +
            `model instances as predictions at once (concurrency.instances, COG_INSTANCES): concurrency ${this.slots.capacity}, instances ${instances}`,
        );
      }
      const setup = this.executor.setup(options.weights ?? currentSettings().weights, onLog);
      const timeout = options.setupTimeout ?? 0;
      if (timeout > 0) {
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Error(`Setup timed out after ${timeout} seconds`);
        const expired = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(timedOut), timeout * 1000);
        });
        try {
          await Promise.race([setup, expired]);
        } catch (error) {
          // A worker still running setup() would keep its core busy for good: stop it (in this
          // thread nothing can stop it).
          if (error === timedOut && !(this.executor instanceof InProcessExecutor)) await this.executor.close();
          throw error;
        } finally {
          clearTimeout(timer);
        }
      } else {
        await setup;
      }
      state.status = 'succeeded';
      state.completed_at = new Date().toISOString();
      this.#tell('setupEnded', state, this.kind);
      const waiting = this.#afterSetup;
      this.#afterSetup = [];
      for (const run of waiting) run();
      // Predictions that waited in the batch former for a replaced worker's setup are batched now.
      this.#batches?.pump();
    } catch (error) {
      this.#failSetup(error);
      throw error;
    }
  }

  /** Why health says DEFUNCT; undefined while it does not. */
  get defunct(): string | undefined {
    return this.#defunct?.reason;
  }

  /**
   * The predictor can no longer run, for good (an error escaped user code and belongs to no
   * prediction): health says DEFUNCT, and its predictions in flight fail with the error. False
   * when it already was.
   */
  markDefunct(reason: string): boolean {
    if (this.#defunct?.forGood) return false;
    this.#defunct = { reason, forGood: true };
    for (const entry of this.#inFlight.values()) {
      const result = { status: 'failed', error: `Predictor crashed: ${reason}`, metrics: entry.prediction.metrics } as const;
      if (entry.ranFromMs === undefined) this.#endUnstarted(entry, result);
      else entry.prediction.finish(result);
    }
    return true;
  }

  /**
   * Set up and running. A crashed worker's DEFUNCT comes with a new setup (`starting`), so it is
   * not ready either; DEFUNCT for good leaves this true: the HTTP layer answers 503 with the
   * reason before it asks (runs.ts), and the schema stays readable.
   */
  get isReady(): boolean {
    return this.setupState.status === 'succeeded';
  }

  /** Stops the predictor's worker (if any). In-flight predictions should be finished or cancelled first. */
  async close(): Promise<void> {
    this.#batches?.close();
    await this.#loaded?.executor.close();
  }

  /** A prediction in flight (waiting or running); a finished one is only in `poll`. */
  get(id: string): Prediction | undefined {
    return this.#inFlight.get(id)?.prediction;
  }

  /**
   * The prediction object as JSON text, as of now: one in flight, else one finished and still
   * retained (`COG_PREDICTION_RETENTION`, `COG_PREDICTION_RETENTION_SECONDS`); undefined otherwise.
   */
  poll(id: string): string | undefined {
    return this.#inFlight.get(id)?.prediction.json() ?? this.#retained.get(id);
  }

  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** The predictions in flight now (not ended yet). */
  inFlightPredictions(): Prediction[] {
    return this.#inFlight.values().map((entry) => entry.prediction);
  }

  /**
   * For an error that escaped user code in this thread (call it from an `uncaughtException` or
   * `unhandledRejection` handler): fails the in-process prediction whose async context raised
   * it, and returns true; false when it belongs to none (a worker thread handles its own).
   */
  failEscaped(error: unknown): boolean {
    const executor = this.#loaded?.executor;
    return executor instanceof InProcessExecutor && executor.failPrediction(currentScope(), error);
  }

  /** Cancels an in-flight prediction; false when the id is unknown or finished. */
  cancel(id: string): boolean {
    const entry = this.#inFlight.get(id);
    if (entry === undefined) return false;
    entry.prediction.cancel();
    return true;
  }

  /**
   * Validates the input, takes a slot and starts the prediction. Throws `InputValidationError`,
   * `NotReadyError` or `AtCapacityError`; anything after that is the prediction's own status.
   */
  start(rawInput: unknown, options: StartOptions = {}): Prediction {
    if (!this.isReady) throw new NotReadyError();
    // The phases' times only for an observer that takes them (tracing): ~60 ns a `performance.now()`.
    const timed = this.#listeners.phase !== undefined;
    const validateFrom = timed ? performance.now() : 0;
    const input = this.validator.validate(rawInput ?? {}, options.validate);
    const validateTo = timed ? performance.now() : 0;
    const id = options.id ?? generatePredictionId();
    // A batching predictor's prediction takes its slot with its batch (batching.ts). Else the
    // usual case first: a slot free and nobody waiting, as a number rather than a native object.
    const admission = this.#admission;
    // Plain N-API functions over the admission's id: its `admitNow` and `releaseHandle` methods
    // cost ~780 ns the pair in a loop, these ~310.
    const admissionId = this.#admissionId;
    const handle = this.#batches === undefined ? admissionAdmitNow(admissionId) : null;
    const admitted = handle !== null ? undefined : this.#batches !== undefined ? this.#batches.admit() : admission.admit(id);
    if (admitted !== undefined && !(admitted instanceof PredictionSlot) && !(admitted instanceof WaitingTicket)) {
      // With no line (queue.max 0) this is Cog's 409; with a full one, 429 and when to come back.
      if (admitted.max === 0) throw new AtCapacityError();
      throw new QueueFullError(admitted.waiting, admitted.max, admitted.retryAfter);
    }
    const entry = new InFlight(this.#hooks, admitted instanceof WaitingTicket ? admitted : undefined, options.signal);
    const prediction = new Prediction({
      id,
      input,
      context: options.context,
      createdAt: options.createdAt,
      runner: entry,
      output: this.target.output,
    });
    entry.prediction = prediction;
    entry.idHash = keyHash(prediction.id);
    entry.slot = handle !== null ? new HandleSlot(admissionId, handle) : admitted instanceof PredictionSlot ? admitted : undefined;
    if (this.#batches !== undefined) {
      entry.batch = {
        key: prediction.tokenId,
        run: (execute) => {
          entry.ranFromMs = this.#recordsRuns ? performance.now() : 0;
          return this.#run(entry, input, options, execute);
        },
      };
    }
    this.#inFlight.set(prediction.id, entry, entry.idHash);
    if (this.#listeners.admitted !== undefined) this.#tell('admitted', prediction, { kind: this.kind, trace: options.trace });
    if (timed) this.#tell('phase', prediction, 'validate', validateFrom, validateTo);
    const timeout = this.#options.predictTimeout;
    if (timeout !== undefined && timeout > 0) {
      entry.deadline = setTimeout(() => prediction.cancel(`Prediction timed out after ${timeout} s`), timeout * 1000);
      entry.deadline.unref();
    }
    if (options.signal !== undefined) {
      options.signal.addEventListener('abort', entry.onAbort!, { once: true });
      // Aborted already: it ends `canceled` without running.
      if (options.signal.aborted) prediction.cancel();
    }
    if (this.#batches !== undefined) this.#batches.join(entry);
    else if (entry.ticket !== undefined) void this.#waitForSlot(entry, entry.ticket, () => this.#runNow(entry, input, options));
    else if (!prediction.terminal) this.#runNow(entry, input, options);
    return prediction;
  }

  /** Runs a prediction that has its slot (`#run` ends its work itself: a `.finally` was two promises a prediction). */
  #runNow(entry: InFlight, input: Record<string, unknown>, options: StartOptions): void {
    entry.ranFromMs = this.#recordsRuns ? performance.now() : 0;
    void this.#run(entry, input, options);
  }

  /**
   * A prediction waits in the line (status `starting`) until a slot is handed to it, first in
   * first out; it runs once setup has finished (a replaced worker runs setup again).
   */
  async #waitForSlot(entry: InFlight, ticket: WaitingTicket, run: () => void): Promise<void> {
    const slot = await ticket.wait();
    if (entry.ticket === ticket) entry.ticket = undefined;
    if (slot === null) return;
    // It ended while the slot was on its way (cancelled, timed out, DEFUNCT): the slot passes on.
    if (entry.prediction.terminal) {
      slot.release();
      return;
    }
    entry.slot = slot;
    if (this.isReady) run();
    else this.#afterSetup.push(() => (entry.prediction.terminal ? this.#workEnded(entry) : run()));
  }

  /** A cancel was requested (`Prediction.cancel`): tell the executor, and start the one timer. */
  #canceled(entry: InFlight): void {
    if (entry.ranFromMs === undefined) {
      // Still waiting (for a slot, or for setup): it never ran, so it ends now.
      this.#endUnstarted(entry, { status: 'canceled', metrics: {} });
      return;
    }
    if (this.#batches !== undefined) return this.#batches.itemCanceled(entry);
    this.executor.cancel(entry.prediction.tokenId);
    if (entry.workEnded) return;
    const graceMs = this.#cancelGraceMs;
    const abandonAfter = Math.min(ABANDON_AFTER_MS, graceMs);
    entry.timer = setTimeout(() => {
      entry.abandon();
      // Code that ignores cancellation (an await that never settles, a busy loop) must not hold
      // the prediction or its slot forever: past the grace period both are let go.
      entry.timer = setTimeout(() => this.#graceOver(entry), graceMs - abandonAfter);
      entry.timer.unref();
    }, abandonAfter);
  }

  /**
   * The grace period is over and the prediction's code still runs. A worker thread is replaced
   * (its execution then settles `canceled` and the prediction ends as usual); code in this
   * thread is left to finish alone, and the prediction and its slot are let go now.
   */
  #graceOver(entry: InFlight): void {
    entry.timer = undefined;
    if (this.executor.stop(entry.prediction.tokenId)) return;
    entry.prediction.finish({ status: 'canceled', metrics: {} });
    this.#workEnded(entry);
  }

  /** The predictor's code for this prediction has ended (or was let go). */
  #workEnded(entry: InFlight): void {
    if (entry.workEnded) return;
    entry.workEnded = true;
    if (entry.timer !== undefined) {
      clearTimeout(entry.timer);
      entry.timer = undefined;
    }
    // The run times feed only the line's `Retry-After` (a 429): without a line (Cog's 409) they
    // are not recorded, which saves an N-API method call (~400 ns) per prediction.
    if (entry.ranFromMs !== undefined && this.#recordsRuns) this.#admission.recordRun((performance.now() - entry.ranFromMs) / 1000);
    if (entry.ended) entry.slot?.release();
  }

  /** The prediction has ended (`Prediction.finish`), before anyone awaiting `done` runs. */
  #finished(entry: InFlight): void {
    entry.ended = true;
    if (entry.deadline !== undefined) clearTimeout(entry.deadline);
    if (entry.signal !== undefined) entry.signal.removeEventListener('abort', entry.onAbort!);
    this.#inFlight.deleteIf(entry.prediction.id, entry, entry.idHash);
    this.#retained.keep(entry.prediction, entry.idHash);
    const response = entry.prediction.finalResponse;
    if (response !== undefined && this.#listeners.ended !== undefined) this.#tell('ended', entry.prediction, response);
    // Ended while it waited: it leaves the line (a slot already on its way passes on).
    if (entry.ticket !== undefined) {
      this.#admission.cancel(entry.prediction.id);
      entry.ticket = undefined;
    }
    // Ended while it waited for its batch (cancelled, timed out, DEFUNCT): it leaves the former.
    this.#batches?.leave(entry);
    if (entry.workEnded) entry.slot?.release();
  }

  /**
   * Runs one prediction to its end. Its work ends (`#workEnded`) once the predictor's code for it
   * has ended: before the prediction finishes (so whoever awaits `done` finds the slot free), or
   * after, when a cancelled async prediction's work was abandoned.
   */
  async #run(entry: InFlight, input: Record<string, unknown>, options: StartOptions, execute?: Execute): Promise<void> {
    // Its work has ended by the time this returns, whatever happened (`finish`'s listeners may
    // throw): a `.finally` on this promise was two more promises per prediction.
    try {
      const { prediction } = entry;
      const loaded = this.#whenLoaded();
      // Without a file input there is nothing to fetch or clean up (two async calls a prediction).
      const files = loaded.fileInputs ? new InputFiles() : undefined;
      const encodeFile = options.encodeFile;
      // The phases' times only for an observer that takes them (tracing).
      const timed = this.#listeners.phase !== undefined;
      let ending: Parameters<Prediction['finish']>[0];
      let execution: Promise<ExecutionResult> | undefined;
      /** The execution has settled (`ended` ran): nothing is left to wait for after the end. */
      let settled = false;
      try {
        prediction.markStarted();
        let resolved: Record<string, unknown> | undefined;
        try {
          // The signal only when a file is fetched: making it for every prediction cost ~25 µs of CPU
          // per echo request under wrk, most of it in GC (input-files.ts).
          const from = timed ? performance.now() : undefined;
          if (files !== undefined) resolved = await files.resolve(this.target.inputs, input, () => prediction.signal);
          else {
            // Still a turn later, as with files: a cancel in the caller's own turn finds it unstarted.
            await SETTLED;
            // A copy, as `resolve` makes: code that changes its input must not change the
            // prediction's `input`. A worker gets a copy anyway (the message's structured clone).
            resolved = loaded.inWorker ? input : { ...input };
          }
          this.#phase(prediction, 'prepare_input', from);
        } catch (error) {
          ending = prediction.canceled
            ? { status: 'canceled', metrics: {} }
            : { status: 'failed', error: `Input validation error: ${errorMessage(error)}`, metrics: {} };
        }
        // Cancelled while its input was prepared: the cancel found nothing running to tell, so the
        // predictor is never called (it would start with its signal already aborted).
        if (resolved !== undefined && prediction.canceled) ending = { status: 'canceled', metrics: {} };
        else if (resolved !== undefined) {
          const invokedFrom = timed ? performance.now() : undefined;
          const job = { input: resolved, context: prediction.context, tokenId: prediction.tokenId };
          const sink = new PredictionSink(prediction, encodeFile);
          // A prediction run on its own is a batch of one (a batch's call is told by batching.ts).
          if (execute === undefined) this.#tell('batchRan', 1);
          const running = execute !== undefined ? execute(job, sink) : this.executor.execute(job, sink);
          execution = running;
          // Its work has ended: told before this goes on (so the slot is free before the end).
          const ended = () => {
            settled = true;
            this.#phase(prediction, 'invoke', invokedFrom);
            this.#workEnded(entry);
          };
          // An async predictor cancelled while it awaits something deaf to its signal ends
          // `canceled` right after the cancel (ABANDON_AFTER_MS), as coglet raises into Python
          // code; its work is abandoned (and waited for below). A sync one cannot be abandoned:
          // it keeps the grace period (then its busy worker is replaced).
          // A batch's item is abandoned alone, at once on its cancel: the batch runs on for the others.
          const abandonable = this.target.isAsync || entry.batch !== undefined;
          // The execution's result, or `canceled` once the entry is abandoned, whichever comes
          // first, with one reaction on the execution: a `Promise.race` with a promise made for
          // every prediction (most are never abandoned) was ~1% of the server's thread per echo
          // request, and a second reaction for `ended` a promise more.
          const result = await new Promise<ExecutionResult>((resolve, reject) => {
            if (abandonable) {
              if (entry.abandoned) resolve({ status: 'canceled', metrics: prediction.metrics });
              else entry.onAbandon = resolve;
            }
            running.then(
              // Settled first (its continuation is a microtask away, after `ended`), so an
              // `ended` that throws cannot keep the prediction from ending.
              (value) => {
                resolve(value);
                ended();
              },
              (error: unknown) => {
                reject(error);
                ended();
              },
            );
          });
          if (result.status === 'succeeded' && !result.streamed) {
            // The one value came in the result: encoded (its files uploaded) once, it is both the
            // one `output` event and the output.
            const encodeFrom = timed ? performance.now() : undefined;
            const encoded = encodeWith(result.output, encodeFile);
            // Awaited only when there is something to wait for (files to upload, an SSE consumer
            // without room): each `await` was a turn of the prediction's path.
            const output = encoded instanceof Promise ? await encoded : encoded;
            if (encodeFile !== undefined && !plain(result.output)) this.#phase(prediction, 'upload_output', encodeFrom);
            if (!prediction.terminal) {
              const taken = prediction.addOutput(output);
              if (taken !== TAKEN) await taken;
            }
            ending = { status: 'succeeded', output, metrics: result.metrics };
          } else {
            ending =
              result.status === 'succeeded' ? { status: 'succeeded', output: prediction.output ?? [], metrics: result.metrics } : result;
          }
        }
      } catch (error) {
        ending = { status: 'failed', error: errorMessage(error), metrics: {} };
      }
      // Input files go before the prediction ends: a caller may exit as soon as it has.
      if (files !== undefined) await files.cleanup().catch(() => undefined);
      if (execution === undefined) this.#workEnded(entry);
      prediction.finish(ending!);
      // Abandoned work (a cancelled async prediction) is waited for; a settled execution is not
      // (`.catch` was a promise and a turn per prediction).
      if (execution !== undefined && !settled) await execution.catch(() => undefined);
    } finally {
      this.#workEnded(entry);
    }
  }

  /** A phase of `prediction` that began at `fromMs` has ended now (observers only: no `fromMs` without one). */
  #phase(prediction: Prediction, phase: PredictionPhase, fromMs: number | undefined): void {
    if (fromMs !== undefined) this.#tell('phase', prediction, phase, fromMs, performance.now());
  }

  /** Runs the user's `healthcheck()` (if any) with Cog's 5 s timeout. */
  async healthcheck(timeoutMs = 5000): Promise<{ healthy: boolean; error?: string }> {
    // Without a user healthcheck there is nothing to ask the predictor's (maybe busy) thread.
    if (this.#loaded !== undefined && !this.#loaded.info.hasHealthcheck) return { healthy: true };
    // A race of two results: the answer, or the deadline's (a healthcheck that throws 'timeout' is not a timeout).
    const answer = (async () => this.executor.healthcheck())().then(
      (healthy) => (healthy ? { healthy: true } : { healthy: false, error: 'Healthcheck failed: user-defined healthcheck returned False' }),
      (error: unknown) => ({ healthy: false, error: `Healthcheck failed: ${errorMessage(error)}` }),
    );
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<{ healthy: boolean; error: string }>((resolve) => {
      timer = setTimeout(
        () =>
          resolve({ healthy: false, error: `Healthcheck failed: user-defined healthcheck timed out after ${timeoutMs / 1000}.0 seconds` }),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([answer, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }
}
