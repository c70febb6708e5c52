// The messages between the server's thread (host.ts) and the predictor's worker (thread.ts). A
// prediction's messages carry its cancel token's id: the one key both threads know it by.
import type { ExecutionResult } from '../executor.js';
import type { PredictorInfo } from '../../load/load-module.js';
import type { LogSource } from '../log-capture.js';
import type { MetricsObject } from '../../predictor/metrics.js';
import type { MetricEvent } from '../../predictor/scope.js';
import type { ModelInstance } from '../../predictor/instance.js';
import { hasOwnKeys } from '../copy-on-change.js';

export interface WorkerOptions {
  ref: string;
  cwd: string;
  kind: 'predict' | 'train';
  echoLogs: boolean;
  /** Which model instance this worker is (`this.instance`); unset: `{ index: 0, count: 1 }`. */
  instance?: ModelInstance;
}

export type ToWorker =
  /**
   * A worker started before its options were known (prelaunch.ts) is told them first, with the
   * environment a worker made now would have been given (cog.yaml's `environment:` applied).
   */
  | { type: 'load'; options: WorkerOptions; env: Record<string, string> }
  | { type: 'setup'; weights: string | undefined }
  /** The predictions of one event-loop turn, flat (`packPredict`, `eachPredict`). */
  | { type: 'predicts'; items: unknown[] }
  /** One `predictBatch` call for these predictions (in order); each ends with its own result ('dones'). */
  | { type: 'predict-batch'; items: { id: number; input: unknown; context: Record<string, string> }[] }
  | { type: 'cancel'; id: number }
  | { type: 'ack'; id: number; count: number }
  | { type: 'healthcheck'; seq: number };

export type FromWorker =
  | { type: 'loaded'; info: PredictorInfo }
  | { type: 'load-failed'; error: string; stack: string }
  | { type: 'setup-log'; text: string; source: LogSource }
  | { type: 'setup-done'; error?: string; stack?: string }
  /** Output items in the order yielded: one message carries a batch (see thread.ts). */
  | { type: 'outputs'; id: number; items: unknown[] }
  | { type: 'log'; id: number; text: string; source: LogSource }
  | { type: 'metric'; id: number; event: MetricEvent; metrics: MetricsObject }
  /**
   * The results of the predictions that ended in one event-loop turn, flat (`packDone`,
   * `eachDone`). A non-streamed predictor's one value travels here only (never in 'outputs').
   */
  | { type: 'dones'; items: unknown[] }
  | { type: 'healthcheck-result'; seq: number; healthy: boolean; error?: string }
  /** An error that belongs to no prediction escaped: the host replaces this worker. */
  | { type: 'crashed'; error: string; stack: string };

/*
 * The two messages of every prediction travel flat, a few fields in a row per prediction in one
 * array, rather than an object each: the structured clone writes and reads every key of every
 * object, and reading interns them (v8.serialize of 16 echo results: 2.1 µs a result as objects,
 * 0.9 flat; of 16 predictions: 2.0 and 0.9). An empty context or metrics object travels as nothing.
 */

/** Adds one prediction to a 'predicts' message's items: id, input, context. */
export function packPredict(items: unknown[], id: number, input: unknown, context: Record<string, string> | undefined): void {
  items.push(id, input, hasOwnKeys(context) ? context : undefined);
}

/** A prediction's fields in a 'predicts' message (`packPredict`). */
const PREDICT_FIELDS = 3;

/** Calls `each` for every prediction of a 'predicts' message, in order. */
export function eachPredict(
  items: readonly unknown[],
  each: (id: number, input: unknown, context: Record<string, string> | undefined) => void,
): void {
  for (let at = 0; at < items.length; at += PREDICT_FIELDS) {
    each(items[at] as number, items[at + 1], items[at + 2] as Record<string, string> | undefined);
  }
}

/** Adds one prediction's result to a 'dones' message's items: id, status, output or error, streamed, metrics. */
export function packDone(items: unknown[], id: number, result: ExecutionResult): void {
  const metrics = hasOwnKeys(result.metrics) ? result.metrics : undefined;
  if (result.status === 'succeeded') items.push(id, 'succeeded', result.output, result.streamed, metrics);
  else if (result.status === 'failed') items.push(id, 'failed', result.error, false, metrics);
  else items.push(id, 'canceled', undefined, false, metrics);
}

/** A result's fields in a 'dones' message (`packDone`). */
export const DONE_FIELDS = 5;

/** Calls `each` for every result of a 'dones' message, in order. */
export function eachDone(items: readonly unknown[], each: (id: number, result: ExecutionResult) => void): void {
  for (let at = 0; at < items.length; at += DONE_FIELDS) {
    const status = items[at + 1] as ExecutionResult['status'];
    const metrics = (items[at + 4] as MetricsObject | undefined) ?? {};
    const value = items[at + 2];
    const result: ExecutionResult =
      status === 'succeeded'
        ? { status, output: value, streamed: items[at + 3] as boolean, metrics }
        : status === 'failed'
          ? { status, error: value as string, metrics }
          : { status, metrics };
    each(items[at] as number, result);
  }
}

/** Output items a worker may send before the host has taken them (backpressure window). */
export const OUTPUT_WINDOW = 512;

/**
 * Most output items in one message: a quarter of the window, so batches overlap with the host's
 * work. Each message costs a postMessage and a wake-up in both threads and one SSE write; 16 a
 * message left ~15% of each thread in postMessage (benches/README.md, 2026-12-01).
 */
export const OUTPUT_BATCH = 128;

/**
 * Most items in one message until the stream has been fast for OUTPUT_BATCH_LONG_STREAK items:
 * a burst that then computes synchronously holds at most this many minus one until its next item.
 */
export const OUTPUT_BATCH_FIRST = 16;

/** Quick items in a row after which a stream is long and steady: its batches grow to OUTPUT_BATCH. */
export const OUTPUT_BATCH_LONG_STREAK = 256;

/**
 * An item the generator took less than this many milliseconds to yield is quick; a slow one is
 * posted at once (with anything batched before it), so a slow generator's items are never held.
 */
export const OUTPUT_BATCH_GAP_MS = 0.05;

/**
 * Items are batched only after this many quick ones in a row (a steady fast stream): a short
 * burst (a few pieces per model step) is posted item by item, so its last piece does not wait
 * for the next step's synchronous computation.
 */
export const OUTPUT_BATCH_STREAK = 8;

/**
 * Messages that go together with the others of one event-loop turn: a postMessage and the other
 * thread's wake-up cost more than the rest of an echo prediction's trip (benches/README.md "HTTP
 * server"), so what one turn queues travels as one message (`send` gets them in order).
 * Any other message must `flush()` first, so order is kept; none waits past this turn.
 */
export class TurnBatch {
  #items: unknown[] = [];
  #scheduled = false;
  readonly #send: (items: unknown[]) => void;

  constructor(send: (items: unknown[]) => void) {
    this.#send = send;
  }

  /** This turn's items, to add one entry to (`packPredict`, `packDone`): they go when the turn ends. */
  queue(): unknown[] {
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        this.flush();
      });
    }
    return this.#items;
  }

  /** Sends what is queued now (before any message that must come after it). */
  flush(): void {
    if (this.#items.length === 0) return;
    const items = this.#items;
    this.#items = [];
    this.#send(items);
  }

  /** Drops what is queued (it was meant for a worker that died). */
  clear(): void {
    this.#items = [];
  }
}
