// One prediction as the outside world sees it: Cog's prediction object (status, input, output,
// logs, metrics, times), its events and its cancel token. Its runtime (runtime.ts) moves it along.
import { EventEmitter } from 'node:events';
import { EventStream, TAKEN } from './events.js';
import { currentSettings } from '../load/settings.js';
import { cancelTokenCancel, cancelTokenNew, cancelTokenOf, cancelTokenRelease, type CancelToken } from '../native/addon.js';
import type { LogSource } from './log-capture.js';
import type { MetricsObject } from '../predictor/metrics.js';
import { JsonText, outputWriters, type JsonWriter, type OutputWriters } from '../schema/output-json.js';
import type { MetricEvent } from '../predictor/scope.js';
import { Secret } from '../predictor/secret.js';
import { convertFields } from './copy-on-change.js';

export type PredictionStatus = 'starting' | 'processing' | 'succeeded' | 'failed' | 'canceled';

/** Cog's prediction object: coglet's fields plus the legacy server's `input` and timestamps. */
export interface PredictionResponse {
  id: string;
  status: PredictionStatus;
  input: Record<string, unknown>;
  output?: unknown;
  error?: string;
  logs: string;
  metrics: MetricsObject;
  created_at: string;
  started_at?: string;
  completed_at?: string;
}

/**
 * Whoever runs the prediction (the runtime), given at construction: told once when cancellation
 * is requested and once when the prediction has ended.
 */
export interface PredictionRunner {
  /** Cancellation was requested (the token is cancelled already): stop the predictor's work for it. */
  cancel(): void;
  /** The prediction reached its terminal status: forget it and free its slot. */
  finished(): void;
}

export interface PredictionEvents {
  start: [];
  output: [chunk: unknown, index: number];
  log: [data: string, source: LogSource];
  metric: [event: MetricEvent];
  completed: [response: PredictionResponse];
}

const LOW = 2 ** 24;
/** The last id's nanoseconds as `high * 2^24 + low`. */
let lastHigh = 0;
let lastLow = 0;
/**
 * `high` in hex, kept while it stays the same (it moves every 16.8 ms): `toString(16)` of a
 * number past 2^32 takes ~350 ns, of `low` (under 2^24) ~40.
 */
let highOf = -1;
let highHex = '';

/**
 * `pred_<hex of epoch nanoseconds>`, as coglet generates ids (with a counter against ties). The
 * nanoseconds pass 2^53, so they are kept in two exact parts, `high * 2^24 + low`, rather than a
 * BigInt (two BigInts and their arithmetic were ~1% of the server thread per echo request).
 */
export function generatePredictionId(prefix = 'pred'): string {
  const ms = Date.now();
  // The monotonic clock's nanoseconds within its millisecond, as `process.hrtime()[1] % 1e6` gave
  // them, without the array `hrtime` makes per call.
  const sub = Math.floor((performance.now() % 1) * 1_000_000);
  const msHigh = Math.floor(ms / LOW);
  // (ms mod 2^24) * 1e6 + sub < 2^44: exact; so is what carries into the high part.
  const rest = (ms - msHigh * LOW) * 1_000_000 + sub;
  let high = msHigh * 1_000_000 + Math.floor(rest / LOW);
  let low = rest % LOW;
  if (high < lastHigh || (high === lastHigh && low <= lastLow)) {
    high = lastHigh;
    low = lastLow + 1;
    if (low === LOW) {
      high += 1;
      low = 0;
    }
  }
  lastHigh = high;
  lastLow = low;
  if (high !== highOf) {
    highOf = high;
    highHex = high.toString(16);
  }
  return `${prefix}_${highHex}${low.toString(16).padStart(6, '0')}`;
}

/** The second `isoPrefix` is of (epoch ms / 1000, floored), and its ISO text up to the milliseconds. */
let isoSecond = Number.NaN;
let isoPrefix = '';

/**
 * `new Date(ms).toISOString()`, the text up to the second made once per second: a Date and its
 * `toISOString` took ~570 ns, three per prediction (created, started, completed).
 */
export function isoTime(ms: number): string {
  const whole = Math.floor(ms);
  const second = Math.floor(whole / 1000);
  if (second !== isoSecond) {
    const iso = new Date(second * 1000).toISOString();
    // Always `...:SS.000Z` (a year past 9999 is longer at the front, not here).
    isoPrefix = iso.slice(0, iso.length - 4);
    isoSecond = second;
  }
  const milli = whole - second * 1000;
  return `${isoPrefix}${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
}

/**
 * An `output` event's data, `{chunk, index}`, written when a consumer reads it. A string (a
 * token) is written directly, the same text as JSON.stringify of the object, which was ~10% of
 * the SSE main thread.
 */
function outputEvent(chunk: unknown, index: number, writeChunk: JsonWriter | undefined): unknown {
  if (writeChunk !== undefined) return new JsonText(() => `{"chunk":${writeChunk(chunk) ?? 'null'},"index":${index}}`);
  if (typeof chunk === 'string') return new JsonText(() => `{"chunk":${JSON.stringify(chunk)},"index":${index}}`);
  return { chunk, index };
}

/** The input as responses show it: secrets masked (a copy only where there is a secret). */
function publicInput<T>(value: T): T {
  if (value instanceof Secret) return Secret.mask as T;
  // Secrets may sit in the items' objects too (`Type.Array(Type.Object({ key: Type.Secret() }))`).
  if (Array.isArray(value)) return convertFields(value, publicInput) as T;
  if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
    return convertFields(value as Record<string, unknown>, publicInput) as T;
  }
  return value;
}

/**
 * One prediction's state as the outside world sees it. Its runner moves it from `starting` to a
 * terminal status and emits `start`, `output`, `log`, `metric` and `completed` on the way.
 */
export class Prediction extends EventEmitter<PredictionEvents> {
  readonly id: string;
  /**
   * Its cancel token's id in the process-wide table (crates/core registry.rs): the key both
   * threads know it by, and the flag the worker reads. The token's JS object (`token`) is made
   * only when asked for: making one cost ~1.8 µs, and most predictions never need it.
   */
  readonly tokenId = cancelTokenNew();
  #token: CancelToken | undefined;
  /**
   * Its events' stream (`events`), made when first asked for or when an event comes that its
   * state cannot replay (a log, a metric). Until then the history is what the state says (its
   * start, its outputs so far, its end), replayed into the stream in the same order when it is
   * made: most predictions (sync JSON requests) never have a consumer, and the stream, its held
   * events and their objects were ~10 allocations a prediction on the server's thread.
   */
  #events: EventStream | undefined;
  /** Outputs published while `#events` was not made yet (those after the end are not). */
  #heldOutputs = 0;
  /** `COG_STREAM_HISTORY_CAPACITY` as of its creation, as the stream made then would have read it. */
  readonly #historyCapacity = currentSettings().streamHistoryCapacity;
  readonly input: Record<string, unknown>;
  readonly context: Record<string, string>;
  status: PredictionStatus = 'starting';
  /**
   * Its times as epoch ms and as the ISO text responses show, each written once (see `isoTime`):
   * Date objects and three `toISOString` per `response()` were ~2.6% of the server's thread.
   */
  readonly #createdMs: number;
  readonly #createdIso: string;
  #startedMs: number | undefined;
  #startedIso: string | undefined;
  #completedMs: number | undefined;
  #completedIso: string | undefined;
  /**
   * Whether `cancel()` was called: the token is only ever cancelled there, and reading it is an
   * N-API call (~330 ns).
   */
  #canceled = false;
  /** Output items so far (a streamed output), or the final output once terminal. */
  output: unknown;
  error: string | undefined;
  logs = '';
  metrics: MetricsObject = {};
  readonly #outputs: unknown[] = [];
  #abort: AbortController | undefined;
  /**
   * How the output goes out as JSON when its declared schema has a `Number` in it (written as
   * Cog writes floats, `-10.0`, in `json()`, the `output` events and the `completed` event).
   */
  readonly #writers: OutputWriters | undefined;
  /**
   * The terminal response and its JSON text, written on first use and then shared by every
   * reader (the sync answer, the terminal webhook, SSE's `completed`, polling's retention).
   */
  #final: { response: PredictionResponse; json: string | undefined } | undefined;
  /**
   * `done`, made when first asked for: the server's own sync answer waits with `whenDone` (a
   * callback), so most predictions make no promise for their end (a promise and its resolver
   * per prediction, and the turn its `await` took).
   */
  #done: Promise<PredictionResponse> | undefined;
  #resolve: ((response: PredictionResponse) => void) | undefined;
  /** `whenDone`'s callbacks, told in order after `completed` is emitted. */
  #whenDone: ((response: PredictionResponse) => void)[] | undefined;
  readonly #runner: PredictionRunner | undefined;
  /** Why a cancel ends it `failed` instead of `canceled` (see `cancel`). */
  #cancelFailure: string | undefined;
  /**
   * `performance.now()` when it began to run: `predict_time` counts from here, not time waiting
   * (and needs sub-millisecond deltas, which Dates lack).
   */
  #startedAtMs: number | undefined;
  /** `performance.now()` at creation: `queue_time` counts from here to `#startedAtMs`. */
  readonly #createdAtMs = performance.now();

  constructor(options: {
    id?: string;
    input: Record<string, unknown>;
    context?: Record<string, string>;
    runner?: PredictionRunner;
    /** The predictor's `static output`, which says how numbers in the output are written. */
    output?: unknown;
    /** When it was created, if before now (a queued prediction: when it was submitted). */
    createdAt?: Date;
  }) {
    super();
    this.id = options.id ?? generatePredictionId();
    this.#createdMs = options.createdAt?.getTime() ?? Date.now();
    this.#createdIso = isoTime(this.#createdMs);
    this.#runner = options.runner;
    this.#writers = outputWriters(options.output);
    this.input = publicInput(options.input);
    this.context = options.context ?? {};
  }

  /** Every event, for streaming consumers (SSE, `stream()`): see events.ts. */
  get events(): EventStream {
    if (this.#events === undefined) {
      const events = new EventStream(() => this.token, this.#historyCapacity);
      this.#events = events;
      // The history so far, as it would have been published: start, outputs, the end.
      if (this.#startedIso !== undefined) void events.publish('start', { id: this.id, status: 'processing' });
      if (this.#heldOutputs > 0) {
        const writeChunk = this.#writers?.chunk;
        const held: unknown[] = new Array(this.#heldOutputs);
        for (let index = 0; index < held.length; index++) held[index] = outputEvent(this.#outputs[index], index, writeChunk);
        void events.publishMany('output', held);
      }
      const final = this.#final;
      if (final !== undefined) events.close('completed', this.#completedEvent(final.response));
    }
    return this.#events;
  }

  /** The output items so far, as the predictor produced (and the runner encoded) them. */
  get outputItems(): readonly unknown[] {
    return this.#outputs;
  }

  get terminal(): boolean {
    return this.status === 'succeeded' || this.status === 'failed' || this.status === 'canceled';
  }

  get canceled(): boolean {
    return this.#canceled;
  }

  /** Its cancel token (for Rust work and output channels that obey it), made on first use. */
  get token(): CancelToken {
    return (this.#token ??= cancelTokenOf(this.tokenId, this.#canceled));
  }

  /** When it was created (a queued one: when it was submitted). */
  get createdAt(): Date {
    return new Date(this.#createdMs);
  }

  /** When it began to run; undefined while it waits. */
  get startedAt(): Date | undefined {
    return this.#startedMs === undefined ? undefined : new Date(this.#startedMs);
  }

  /** When it ended; undefined until then. */
  get completedAt(): Date | undefined {
    return this.#completedMs === undefined ? undefined : new Date(this.#completedMs);
  }

  /** `created_at` as responses show it. */
  get createdIso(): string {
    return this.#createdIso;
  }

  /** Resolves with the terminal response (it never rejects: failures are a status). */
  get done(): Promise<PredictionResponse> {
    if (this.#done === undefined) {
      const final = this.#final;
      this.#done =
        final !== undefined
          ? Promise.resolve(final.response)
          : new Promise((resolve) => {
              this.#resolve = resolve;
            });
    }
    return this.#done;
  }

  /**
   * Calls `callback` with the terminal response once the prediction has ended (at once if it
   * has), right after its `completed` event: `done` without a promise or a turn of its own.
   */
  whenDone(callback: (response: PredictionResponse) => void): void {
    const final = this.#final;
    if (final !== undefined) return callback(final.response);
    (this.#whenDone ??= []).push(callback);
  }

  /**
   * Requests cancellation (once: a second call does nothing); the status becomes `canceled` when
   * the predictor has stopped, or `failed` with `failure` as its error when one is given (a
   * deadline that passed: the prediction did not choose to stop).
   */
  cancel(failure?: string): void {
    if (this.terminal || !cancelTokenCancel(this.tokenId)) return;
    this.#canceled = true;
    this.#cancelFailure = failure;
    this.#abort?.abort();
    this.#runner?.cancel();
  }

  /** Aborts when the prediction is cancelled (stops its downloads and uploads). */
  get signal(): AbortSignal {
    // Made on demand: most predictions never download or upload anything.
    if (this.#abort === undefined) {
      this.#abort = new AbortController();
      if (this.canceled) this.#abort.abort();
    }
    return this.#abort.signal;
  }

  /** A response (default: as of now) as JSON text, for the wire; the terminal one is written once. */
  json(response: PredictionResponse = this.#final?.response ?? this.response()): string {
    const final = this.#final;
    if (final?.response === response) return (final.json ??= this.#write(response));
    return this.#write(response);
  }

  /** The terminal prediction object; undefined until it has ended. */
  get finalResponse(): PredictionResponse | undefined {
    return this.#final?.response;
  }

  /** The terminal prediction object as JSON text (written once); undefined until it has ended. */
  get finalJson(): string | undefined {
    return this.#final === undefined ? undefined : this.json(this.#final.response);
  }

  #write(response: PredictionResponse): string {
    const writers = this.#writers;
    if (writers === undefined) return JSON.stringify(response);
    // While running (and for a failed stream) `output` is the items so far, not the final output.
    return (response.output === this.#outputs ? writers.running : writers.final)(response)!;
  }

  markStarted(): void {
    this.status = 'processing';
    this.#startedMs = Date.now();
    this.#startedIso = isoTime(this.#startedMs);
    this.#startedAtMs = performance.now();
    // Without a stream yet, `events` replays the start from `#startedIso` when it is made.
    if (this.#events !== undefined) void this.#events.publish('start', { id: this.id, status: 'processing' });
    this.emit('start');
  }

  /** Adds an output item; resolves when streaming consumers have room for it (backpressure). */
  addOutput(chunk: unknown): Promise<void> {
    // Without a stream (a sync prediction's one value), no array for one item.
    if (this.#events !== undefined) return this.addOutputs([chunk]);
    this.output = this.#outputs;
    this.#hold(chunk);
    return TAKEN;
  }

  /**
   * Adds output items in order (a batch from the worker): their `output` events go into the
   * channel in one send; each item still emits its own `output` (webhooks, observers). Resolves
   * when streaming consumers have room for all of them (backpressure).
   */
  addOutputs(chunks: readonly unknown[]): Promise<void> {
    const stream = this.#events;
    this.output = this.#outputs;
    if (stream === undefined) {
      for (let offset = 0; offset < chunks.length; offset++) this.#hold(chunks[offset]);
      return TAKEN;
    }
    const writeChunk = this.#writers?.chunk;
    const events: unknown[] = new Array(chunks.length);
    for (let offset = 0; offset < chunks.length; offset++) {
      const chunk = chunks[offset];
      const index = this.#outputs.push(chunk) - 1;
      events[offset] = outputEvent(chunk, index, writeChunk);
      this.emit('output', chunk, index);
    }
    return stream.publishMany('output', events);
  }

  /**
   * An output item while there is no stream: `events` replays it from `#outputs` when made (none
   * after the end, as a closed stream takes none). Each listener sees the output as of its own
   * item, as when items came one by one.
   */
  #hold(chunk: unknown): void {
    const index = this.#outputs.push(chunk) - 1;
    // An 'output' listener made the stream (asked for `events`) earlier in this batch: the rest go into it.
    if (this.#events !== undefined) void this.#events.publish('output', outputEvent(chunk, index, this.#writers?.chunk));
    else if (this.#final === undefined) this.#heldOutputs += 1;
    this.emit('output', chunk, index);
  }

  addLog(data: string, source: LogSource): void {
    this.logs += data;
    // Makes the stream: the state cannot say where a log fell among the outputs.
    void this.events.publish('log', { source, data });
    this.emit('log', data, source);
  }

  addMetric(event: MetricEvent, metrics: MetricsObject): void {
    this.metrics = metrics;
    void this.events.publish('metric', event);
    this.emit('metric', event);
  }

  /**
   * Ends the prediction; `predict_time` (seconds it ran, to the microsecond, as Cog; 0 when it never
   * left the queue) and `queue_time` (seconds from creation until it began to run, near 0 when a
   * slot was free; one that never ran waited its whole life) are always added.
   */
  finish(result: { status: 'succeeded' | 'failed' | 'canceled'; output?: unknown; error?: string; metrics: MetricsObject }): void {
    if (this.terminal) return;
    if (result.status === 'canceled' && this.#cancelFailure !== undefined) {
      result = { status: 'failed', error: this.#cancelFailure, metrics: result.metrics };
    }
    const now = performance.now();
    this.#completedMs = Date.now();
    this.#completedIso = isoTime(this.#completedMs);
    this.status = result.status;
    if (result.status === 'succeeded') this.output = result.output;
    if (result.error !== undefined) this.error = result.error;
    const ran = this.#startedAtMs === undefined ? 0 : now - this.#startedAtMs;
    const waited = (this.#startedAtMs ?? now) - this.#createdAtMs;
    this.metrics = { ...result.metrics, predict_time: Math.round(ran * 1000) / 1e6, queue_time: Math.round(waited * 1000) / 1e6 };
    cancelTokenRelease(this.tokenId);
    const response = this.response();
    this.#final = { response, json: undefined };
    // Free the slot before anyone awaiting `done` runs, so they can start the next prediction.
    this.#runner?.finished();
    // Without a stream yet, `events` closes it with the same event when it is made.
    this.#events?.close('completed', this.#completedEvent(response));
    this.#resolve?.(response);
    try {
      this.emit('completed', response);
    } finally {
      // Told even when a `completed` listener throws, as `done` resolved before it was emitted.
      const callbacks = this.#whenDone;
      this.#whenDone = undefined;
      if (callbacks !== undefined) for (const callback of callbacks) callback(response);
    }
  }

  /** The `completed` event's data: the terminal response, or its JSON with Cog's floats. */
  #completedEvent(response: PredictionResponse): unknown {
    return this.#writers === undefined ? response : new JsonText(() => this.json(response));
  }

  /** The prediction object as of now. */
  response(): PredictionResponse {
    const response: PredictionResponse = {
      id: this.id,
      status: this.status,
      input: this.input,
      logs: this.logs,
      metrics: this.metrics,
      created_at: this.#createdIso,
    };
    if (this.output !== undefined) response.output = this.output;
    if (this.error !== undefined) response.error = this.error;
    if (this.#startedIso !== undefined) response.started_at = this.#startedIso;
    if (this.#completedIso !== undefined) response.completed_at = this.#completedIso;
    return response;
  }
}
