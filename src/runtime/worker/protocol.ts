// The messages between the server's thread (host.ts) and the predictor's worker (thread.ts). A
// prediction's messages carry its cancel token's id: the one key both threads know it by.
import type { ExecutionResult } from '../executor.js';
import type { PredictorInfo } from '../../load/load-module.js';
import type { LogSource } from '../log-capture.js';
import type { MetricsObject } from '../../predictor/metrics.js';
import type { MetricEvent } from '../../predictor/scope.js';
import type { ModelInstance } from '../../predictor/instance.js';

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
  | { type: 'predict'; id: number; input: unknown; context: Record<string, string> }
  /** One `predictBatch` call for these predictions (in order); each ends with its own 'done'. */
  | { type: 'predict-batch'; items: { id: number; input: unknown; context: Record<string, string> }[] }
  | { type: 'cancel'; id: number }
  | { type: 'ack'; id: number; count: number }
  | { type: 'healthcheck'; seq: number }
  /** Messages of one event loop turn, in order, as one postMessage (host.ts `#postSoon`). */
  | { type: 'many'; messages: ToWorker[] };

export type FromWorker =
  | { type: 'loaded'; info: PredictorInfo }
  | { type: 'load-failed'; error: string; stack: string }
  | { type: 'setup-log'; text: string; source: LogSource }
  | { type: 'setup-done'; error?: string; stack?: string }
  /** Output items in the order yielded: one message carries a batch (see thread.ts). */
  | { type: 'outputs'; id: number; items: unknown[] }
  | { type: 'log'; id: number; text: string; source: LogSource }
  | { type: 'metric'; id: number; event: MetricEvent; metrics: MetricsObject }
  /** A non-streamed predictor's one value travels here only (never in 'outputs'). */
  | { type: 'done'; id: number; result: ExecutionResult }
  | { type: 'healthcheck-result'; seq: number; healthy: boolean; error?: string }
  /** Messages of one event loop turn, in order, as one postMessage (thread.ts `postSoon`). */
  | { type: 'many'; messages: FromWorker[] }
  /** An error that belongs to no prediction escaped: the host replaces this worker. */
  | { type: 'crashed'; error: string; stack: string };

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
 * server"), so what one turn queues travels as one `many` message (`send` gets them in order).
 * Any other message must `flush()` first, so order is kept; none waits past this turn.
 */
export class TurnBatch<M> {
  #queued: M[] = [];
  #scheduled = false;
  readonly #send: (messages: M[]) => void;

  constructor(send: (messages: M[]) => void) {
    this.#send = send;
  }

  /** Queues `message` to go with the others of this turn. */
  add(message: M): void {
    this.#queued.push(message);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.flush();
    });
  }

  /** Sends what is queued now (before any message that must come after it). */
  flush(): void {
    if (this.#queued.length === 0) return;
    const messages = this.#queued;
    this.#queued = [];
    this.#send(messages);
  }

  /** Drops what is queued (it was meant for a worker that died). */
  clear(): void {
    this.#queued = [];
  }
}
