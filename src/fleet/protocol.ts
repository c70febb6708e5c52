// The fleet's wire contract on Redis: what `cog-node worker`, `PredictionQueue` and the gateway
// (`cog-node serve --redis`) agree on, and nothing else. Every key, channel, field and limit they
// share is defined here once; the three sides import it and never spell a key themselves.
//
// ## The queue (BullMQ 6)
// - Queue name: `COG_QUEUE_NAME` (default `cog-predictions`); Redis: `COG_REDIS_URL`. BullMQ's
//   own keys keep its default prefix (`bull:<queue>:…`), so BullMQ's tools (Taskforce, bull-board)
//   and KEDA's BullMQ scaler see the queue as any other.
// - One job per prediction, named `predict` (`train` for a trainer). **Job id = prediction id**:
//   `PUT /predictions/{id}` and `submit(input, { id })` are idempotent because BullMQ refuses a
//   second job with an id it holds. BullMQ forbids ids that contain `:` or are integers
//   (`checkPredictionId`).
// - Job data = Cog's prediction request (`id`, `input`, `webhook`, `webhook_events_filter`,
//   `context`) plus `created_at` and the W3C trace context (`traceparent`, `tracestate`) of the
//   request that made it, so the trace continues through the queue (`PredictionJobData`).
//   Producers validate the input against the schema before adding; a worker validates again, and
//   a bad job ends as a *completed* job whose value has `status: "failed"` and the 422's message.
// - Return value = the final prediction object, the same JSON `serve` answers with (`output`
//   with Cog's floats, `metrics.predict_time`, ...). A prediction that fails or is cancelled is a
//   completed job too: BullMQ's `failed` state means only that no worker could finish it (the
//   stalled limit was passed), and readers turn it into a `failed` prediction (`failedPrediction`).
// - Jobs are added with `attempts: 1` (user-code failures are never retried) and kept for
//   `RESULT_TTL_SECONDS` after they end (`JOB_OPTIONS`), so `result(id)` and
//   `GET /predictions/{id}` can read them.
// - At-least-once: a worker that dies mid-prediction stops renewing its job's lock; after
//   `COG_QUEUE_LOCK_DURATION` seconds BullMQ's stalled check moves the job back to waiting and
//   another worker runs it again under the same id (at most `MAX_STALLED_COUNT` times).
//
// ## Events: one Redis stream per prediction
// `eventsKey(queue, id)` = `cog:<queue>:events:<id>`. Each entry has two fields: `type` (`start`,
// `output`, `log`, `metric`, `completed`) and `data` (JSON text: what Cog's SSE sends as that
// event's data: `output` is `{chunk, index}`, `log` is `{source, data}`, `metric` is
// `{name, value, mode}`, `completed` is the final prediction object). The worker appends them as
// they happen, in order; `completed` is the last entry of a run. A re-run after a stall starts
// with a new `start`. The stream is capped (`XADD MAXLEN ~ EVENTS_MAX_LENGTH`) and expires
// `EVENTS_TTL_SECONDS` after its last entry. A consumer reads from `0` (replay) or `$` (live).
//
// ## Cancellation
// - A waiting job is removed (`Queue.remove`, which refuses a job a worker holds). Whoever
//   removed it then writes its end: the `completed` entry with a `canceled` prediction, and its
//   terminal webhook (`canceledPrediction`).
// - A running job: `PUBLISH cancelChannel(queue) <id>`; every worker subscribes to the channel
//   and cancels the prediction's token if it holds it (within ~ms of the publish, well inside
//   Cog's 100 ms). A cancel also sets `canceledKey(queue, id)` for `CANCEL_MARK_TTL_SECONDS`: a
//   worker that takes a job in the instant between the failed remove and the publish finds the
//   mark and ends it `canceled` without running it.
//
// ## Liveness
// Each worker holds `workerKey(queue, name)` = `cog:<queue>:worker:<name>` (JSON `WorkerBeat`:
// host, pid, slots, running, ready) with a TTL of `HEARTBEAT_TTL_MS`, refreshed every
// `HEARTBEAT_EVERY_MS`; a worker that dies disappears within the TTL. Readers `SCAN` for
// `workerKeyPattern(queue)`. BullMQ's `Queue.getWorkers()` (client names) says the same without
// readiness; the heartbeat is what the gateway's health reads ("at least one worker is ready").
import type { PredictionResponse } from '../runtime/prediction.js';
import type { WebhookEvent } from '../server/webhook.js';

/** The queue `cog-node worker`, `PredictionQueue` and the gateway use unless told otherwise. */
export const DEFAULT_QUEUE_NAME = 'cog-predictions';

/** BullMQ's job name for a prediction (a trainer's jobs would be `train`). */
export const JOB_NAME = 'predict';

/** Finished jobs (and their results) are kept this long. */
export const RESULT_TTL_SECONDS = 24 * 60 * 60;

/** Options every producer adds a prediction job with. */
export const JOB_OPTIONS = {
  attempts: 1,
  removeOnComplete: { age: RESULT_TTL_SECONDS },
  removeOnFail: { age: RESULT_TTL_SECONDS },
} as const;

/** How often a job may stall (its worker died) and be handed to another worker before it fails. */
export const MAX_STALLED_COUNT = 3;

/** A prediction's events stream keeps about this many entries (older ones are trimmed). */
export const EVENTS_MAX_LENGTH = 10_000;
/** A prediction's events stream expires this long after its last entry. */
export const EVENTS_TTL_SECONDS = 60 * 60;
/** A cancel's mark lives this long (see Cancellation above). */
export const CANCEL_MARK_TTL_SECONDS = 60 * 60;

/** A worker's heartbeat key lives this long unless refreshed ... */
export const HEARTBEAT_TTL_MS = 15_000;
/** ... and is refreshed this often. */
export const HEARTBEAT_EVERY_MS = 5_000;

/** The data of a prediction job: Cog's prediction request, and where it came from. */
export interface PredictionJobData {
  id: string;
  input: Record<string, unknown>;
  webhook?: string;
  webhook_events_filter?: WebhookEvent[];
  context?: Record<string, string>;
  /** When the prediction was created (ISO 8601): the final object's `created_at`. */
  created_at: string;
  traceparent?: string;
  tracestate?: string;
}

/** The event types of a prediction's stream, as Cog's SSE names them. */
export type FleetEventType = 'start' | 'output' | 'log' | 'metric' | 'completed';

/** One entry of a prediction's events stream. */
export interface FleetEvent {
  type: FleetEventType;
  /** The event's data as JSON text. */
  data: string;
}

/** A worker's heartbeat (`workerKey`). */
export interface WorkerBeat {
  name: string;
  host: string;
  pid: number;
  /** Predictions it runs at once (its runtime's slots). */
  slots: number;
  running: number;
  /** Set up and taking jobs (false while starting, after setup failed, while stopping). */
  ready: boolean;
  started_at: string;
}

export const eventsKey = (queue: string, id: string): string => `cog:${queue}:events:${id}`;
export const cancelChannel = (queue: string): string => `cog:${queue}:cancel`;
export const canceledKey = (queue: string, id: string): string => `cog:${queue}:canceled:${id}`;
export const workerKey = (queue: string, name: string): string => `cog:${queue}:worker:${name}`;
export const workerKeyPattern = (queue: string): string => `cog:${queue}:worker:*`;

/**
 * Why `id` cannot be a prediction (job) id, or undefined when it can: BullMQ refuses ids with
 * `:` and ids that are integers.
 */
export function predictionIdProblem(id: string): string | undefined {
  if (id === '') return 'must not be empty';
  if (id.includes(':')) return "must not contain ':'";
  if (`${Number.parseInt(id, 10)}` === id) return 'must not be an integer (BullMQ keeps those for its own ids)';
  return undefined;
}

/** The arguments of `XADD` for one event, capped as the protocol says. */
export function eventEntryArgs(event: FleetEvent): string[] {
  return ['MAXLEN', '~', String(EVENTS_MAX_LENGTH), '*', 'type', event.type, 'data', event.data];
}

/** An entry's fields (`[field, value, ...]`, as `XREAD` gives them) as an event; undefined if not one. */
export function decodeEntry(fields: readonly string[]): FleetEvent | undefined {
  let type: string | undefined;
  let data: string | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] === 'type') type = fields[i + 1];
    else if (fields[i] === 'data') data = fields[i + 1];
  }
  if (data === undefined || !['start', 'output', 'log', 'metric', 'completed'].includes(type ?? '')) return undefined;
  return { type: type as FleetEventType, data };
}

/** The final object of a job no worker could finish (BullMQ's `failed` state). */
export function failedPrediction(data: PredictionJobData, error: string): PredictionResponse {
  return {
    id: data.id,
    status: 'failed',
    input: data.input,
    error,
    logs: '',
    metrics: {},
    created_at: data.created_at,
    completed_at: new Date().toISOString(),
  };
}

/** The final object of a job removed while it waited. */
export function canceledPrediction(data: PredictionJobData): PredictionResponse {
  return {
    id: data.id,
    status: 'canceled',
    input: data.input,
    logs: '',
    metrics: { predict_time: 0 },
    created_at: data.created_at,
    completed_at: new Date().toISOString(),
  };
}
