// Dynamic batching (`static batch`): the batch former in front of the slots. A batching
// predictor's predictions wait in the native former (status `starting`) until their batch is due
// (full, or its oldest waited `maxDelayMs`) and a slot is free; the batch then runs in that one
// slot, each item through the runtime's own `#run`, with its job handed into one `executeBatch`.
import { PredictionBatches, cancelTokenCanceled, type AdmissionFull, type PredictionAdmission } from '../native/addon.js';
import type { ExecutionJob, ExecutionResult, ExecutionSink, PredictorExecutor } from './executor.js';
import type { Prediction } from './prediction.js';
import { KeyedTable } from './keyed-table.js';

/** How the runtime's `#run` hands a prediction's job to its executor: alone, or into its batch. */
export type Execute = (job: ExecutionJob, sink: ExecutionSink) => Promise<ExecutionResult>;

/** A batching predictor's prediction: its key in the former, and how its batch starts its `#run`. */
export interface BatchPlace {
  readonly key: number;
  readonly run: (execute: Execute) => Promise<void>;
}

/** What the former needs of a prediction in flight (the runtime's entry for it). */
export interface BatchItem {
  readonly prediction: Prediction;
  readonly batch: BatchPlace | undefined;
  /** Its share of the batch's slot, set when the batch is taken. */
  slot: { release(): void } | undefined;
  /** Ends it `canceled` at once (its work is abandoned). */
  readonly abandon: () => void;
}

/** What the former needs of the runtime. */
export interface BatchHost<I extends BatchItem> {
  /** The runtime's admission line now (replaced when the predictor's concurrency is known). */
  admission(): PredictionAdmission;
  isReady(): boolean;
  executor(): PredictorExecutor;
  readonly cancelGraceMs: number;
  /** The predictor's code was called for `size` predictions at once (observers). */
  batchRan(size: number): void;
  /** The predictor's code for this item has ended (or was let go). */
  workEnded(item: I): void;
}

/**
 * A batch taken from the former: one slot for all its items, released when every item has let
 * go of its share (ended, and the batch's code ended). Each item's `#run` hands in its job (after
 * its input files are fetched) or ends without one; once all have, `predictBatch` is called once.
 */
interface RunningBatch<I extends BatchItem> {
  readonly items: I[];
  readonly jobs: Map<I, { job: ExecutionJob; sink: ExecutionSink; resolve: (result: ExecutionResult | Promise<ExecutionResult>) => void }>;
  /** Items whose `#run` ended without handing in a job (an input file failed, a cancel). */
  readonly gone: Set<I>;
  /** The items `executeBatch` was called with (the executor knows their tokens). */
  called: I[];
  /** Items still holding their share of the slot. */
  shares: number;
  /** The batch's code has ended (or was let go): no grace timer is needed any more. */
  workEnded: boolean;
  /** The grace period, started once every item is cancelled while the code runs. */
  timer: NodeJS.Timeout | undefined;
}

/** The batch former of one batching predictor's runtime, and the batches it runs. */
export class BatchFormer<I extends BatchItem> {
  readonly #batches: PredictionBatches;
  readonly #host: BatchHost<I>;
  /** The predictions waiting in the former, by their key there (entries of the runtime's map). */
  readonly #waiting = new KeyedTable<number, I>();
  /** The batch each taken prediction runs in. */
  readonly #running = new WeakMap<I, RunningBatch<I>>();
  /** The one timer that looks again when the oldest waiting prediction's batch is due. */
  #timer: NodeJS.Timeout | undefined;

  constructor(options: { maxSize: number; maxDelayMs: number }, host: BatchHost<I>) {
    this.#batches = new PredictionBatches(options.maxSize, options.maxDelayMs);
    this.#host = host;
  }

  /** Predictions waiting in the former. */
  get length(): number {
    return this.#batches.length;
  }

  /**
   * Admission: a prediction joins the former while what waits there fits into the free slots'
   * batches (`maxSize` each), or fewer than `queue.max` wait beyond that; else the admission
   * line's own refusal (Cog's 409 with `queue.max` 0, else 429 with its Retry-After).
   * Undefined: admitted, its slot comes with its batch.
   */
  admit(): AdmissionFull | undefined {
    const batches = this.#batches;
    const admission = this.#host.admission();
    const fits = (admission.capacity - admission.inUse) * batches.maxSize;
    if (batches.length < fits + admission.maxWaiting) return undefined;
    return { waiting: Math.max(0, batches.length - fits), max: admission.maxWaiting, retryAfter: admission.retryAfter };
  }

  /** The prediction waits in the former for its batch. */
  join(item: I): void {
    // Cancelled before it could wait (its caller's signal was aborted already).
    if (item.prediction.terminal) return;
    const { key } = item.batch!;
    this.#batches.push(key);
    this.#waiting.set(key, item);
    this.pump();
  }

  /** It ended: out of the former if it still waited there (else nothing to do). */
  leave(item: I): void {
    const { key } = item.batch!;
    if (this.#waiting.get(key) !== item) return;
    this.#waiting.delete(key);
    this.#batches.remove(key);
    // The oldest may have gone: the next deadline moves.
    this.pump();
  }

  /** Stops the timer (the runtime closes). */
  close(): void {
    clearTimeout(this.#timer);
  }

  /**
   * Takes every due batch there is a free slot for; else sets the one timer for the next
   * deadline. Called when a prediction joins or leaves, when a batch's slot is freed, and when
   * setup has finished.
   */
  pump(): void {
    const batches = this.#batches;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    while (batches.length > 0 && this.#host.isReady()) {
      // With every slot busy there is no timer: the slot that frees looks again.
      const slot = this.#host.admission().tryAcquire();
      if (slot === null) return;
      const keys = batches.takeReady();
      if (keys === null) {
        slot.release();
        this.#timer = setTimeout(() => this.pump(), batches.msUntilDeadline() ?? 0);
        return;
      }
      this.#start(keys, slot);
    }
  }

  /** Runs a batch taken from the former in one slot: each item starts its `#run` now. */
  #start(keys: number[], slot: { release(): void }): void {
    const items: I[] = [];
    for (const key of keys) {
      const item = this.#waiting.get(key);
      this.#waiting.delete(key);
      if (item !== undefined && !item.prediction.terminal) items.push(item);
    }
    if (items.length === 0) {
      slot.release();
      return;
    }
    const batch: RunningBatch<I> = {
      items,
      jobs: new Map(),
      gone: new Set(),
      called: [],
      shares: items.length,
      workEnded: false,
      timer: undefined,
    };
    for (const item of items) {
      const place = item.batch!;
      this.#running.set(item, batch);
      // The item's share of the slot: the slot is free once every item has let go of its own.
      let held = true;
      item.slot = {
        release: () => {
          if (!held) return;
          held = false;
          batch.shares -= 1;
          if (batch.shares > 0) return;
          slot.release();
          this.pump();
        },
      };
      const handIn: Execute = (job, sink) =>
        new Promise<ExecutionResult>((resolve) => {
          batch.jobs.set(item, { job, sink, resolve });
          this.#call(batch);
        });
      void place.run(handIn).then(() => {
        // It ended without handing in a job (an input file failed, a cancel while fetching).
        if (batch.jobs.has(item)) return;
        batch.gone.add(item);
        this.#call(batch);
      });
    }
  }

  /** Once every item has handed in its job or gone: one `executeBatch` for the jobs. */
  #call(batch: RunningBatch<I>): void {
    if (batch.jobs.size + batch.gone.size < batch.items.length) return;
    // Items cancelled while the others fetched their files need no place in the call.
    const handed = [...batch.jobs];
    // The prediction's own flag, else the token's (cancelled directly: as from another thread).
    const canceled = (item: I, job: ExecutionJob) => item.prediction.canceled || cancelTokenCanceled(job.tokenId);
    const live = handed.filter(([item, { job }]) => !canceled(item, job)).map(([item, handedIn]) => ({ item, ...handedIn }));
    for (const [item, { job, resolve }] of handed) if (canceled(item, job)) resolve({ status: 'canceled', metrics: {} });
    batch.called = live.map(({ item }) => item);
    if (live.length === 0) {
      batch.workEnded = true;
      return;
    }
    this.#host.batchRan(live.length);
    const results = this.#host.executor().executeBatch(
      live.map(({ job }) => job),
      live.map(({ sink }) => sink),
    );
    live.forEach(({ resolve }, index) => resolve(results[index]!));
    void Promise.allSettled(results).then(() => {
      batch.workEnded = true;
      clearTimeout(batch.timer);
    });
  }

  /**
   * A prediction was cancelled inside a running batch: it ends `canceled` at once (its scope's
   * signal aborts, its result is dropped) and the batch runs on. Once every item is cancelled the
   * batch's signal aborts, and code that runs on past the grace period is stopped as a single
   * prediction's is.
   */
  itemCanceled(item: I): void {
    // One that waits never ran: the runtime ends it before it comes here.
    const batch = this.#running.get(item);
    if (batch === undefined) return;
    this.#host.executor().cancel(item.prediction.tokenId);
    item.abandon();
    // Before the call (others still fetch their files) a cancelled item simply stays out of it.
    if (batch.workEnded || batch.timer !== undefined || batch.called.length === 0) return;
    if (!batch.called.every((called) => called.prediction.canceled)) return;
    batch.timer = setTimeout(() => this.#graceOver(batch), this.#host.cancelGraceMs);
    batch.timer.unref();
  }

  /** Every item of the batch was cancelled and its code still runs after the grace period. */
  #graceOver(batch: RunningBatch<I>): void {
    batch.timer = undefined;
    // A worker is replaced: the batch's executions then settle `canceled`.
    if (this.#host.executor().stop(batch.called[0]!.prediction.tokenId)) return;
    // Code in this thread is left to finish alone; its items and slot are let go now.
    batch.workEnded = true;
    for (const item of batch.items) {
      item.prediction.finish({ status: 'canceled', metrics: {} });
      this.#host.workEnded(item);
    }
  }
}
