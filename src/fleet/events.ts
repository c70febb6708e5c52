// Both ends of a prediction's events stream on Redis (protocol.ts's "Events"): the worker's relay
// from the prediction's own event channel to the stream, and the reader that `PredictionQueue`
// (and the gateway's SSE) follow until the `completed` entry.
import { decodeEvent } from '../runtime/events.js';
import type { Prediction } from '../runtime/prediction.js';
import type { Redis } from './connection.js';
import { decodeEntry, eventEntryArgs, eventsKey, EVENTS_TTL_SECONDS, type FleetEvent } from './protocol.js';

/** Appends events to a prediction's stream, capped, and renews its expiry: one round trip. */
export async function appendEvents(redis: Redis, queue: string, id: string, events: readonly FleetEvent[]): Promise<void> {
  if (events.length === 0) return;
  const key = eventsKey(queue, id);
  const pipeline = redis.pipeline();
  for (const event of events) pipeline.xadd(key, ...(eventEntryArgs(event) as [string, string, string, string]));
  pipeline.expire(key, EVENTS_TTL_SECONDS);
  const results = await pipeline.exec();
  const failed = results?.find(([error]) => error !== null);
  if (failed?.[0]) throw failed[0];
}

/**
 * Relays a prediction's events (`start`, `output`, `log`, `metric`) to its stream as they happen,
 * reading its channel as a lossless consumer: while Redis lags, the predictor's next output waits,
 * as it does for an SSE client. Subscribe before the prediction's first event (right after
 * `runtime.start`). Resolves once the channel has closed and all was written; the `completed`
 * entry is the caller's to write (a job returned to the queue at shutdown gets none).
 */
export async function relayEvents(redis: Redis, queue: string, prediction: Prediction): Promise<void> {
  const consumer = prediction.events.subscribe({ lossless: true, replay: true });
  try {
    for (;;) {
      const ready = consumer.tryNext(512);
      const batch = ready === '' ? await consumer.next(512) : ready;
      if (batch === null) return;
      const events: FleetEvent[] = [];
      for (const line of batch.split('\n')) {
        const { name, json } = decodeEvent(line);
        if (name === 'start' || name === 'output' || name === 'log' || name === 'metric') events.push({ type: name, data: json });
      }
      await appendEvents(redis, queue, prediction.id, events);
    }
  } finally {
    consumer.unsubscribe();
  }
}

/** The `completed` entry of a prediction's stream, if it has one (a removed waiting job's end is only there). */
export async function completedEntry(redis: Redis, queue: string, id: string): Promise<string | undefined> {
  // The last entries are the likeliest place; a run's `completed` is its last. A `start` seen
  // first is a run still going (a job a dead worker left runs again under the same id).
  const entries = (await redis.xrevrange(eventsKey(queue, id), '+', '-', 'COUNT', 16)) as [string, string[]][];
  for (const [, fields] of entries) {
    const event = decodeEntry(fields);
    if (event?.type === 'completed') return event.data;
    if (event?.type === 'start') return undefined;
  }
  return undefined;
}

export interface ReadOptions {
  /** Stream id to read after: `0` replays from the first entry (default), `$` only new ones. */
  from?: string;
  /** How long one blocking read waits before `idle` is asked (ms). */
  blockMs?: number;
  /**
   * Called after each read that found nothing: the final object as JSON text when the prediction
   * ended without a `completed` entry (BullMQ failed the job), else undefined to keep waiting.
   */
  idle?: () => Promise<string | undefined>;
  signal?: AbortSignal;
}

/**
 * Follows a prediction's stream: yields each entry, ending with `completed` (also one `idle`
 * made up). Blocking reads need a connection of their own: pass one that nothing else uses.
 */
export async function* readEvents(redis: Redis, queue: string, id: string, options: ReadOptions = {}): AsyncGenerator<FleetEvent> {
  const key = eventsKey(queue, id);
  let after = options.from ?? '0';
  const blockMs = options.blockMs ?? 1000;
  while (options.signal?.aborted !== true) {
    const reply = (await redis.xread('COUNT', 256, 'BLOCK', blockMs, 'STREAMS', key, after)) as [string, [string, string[]][]][] | null;
    const entries = reply?.[0]?.[1] ?? [];
    if (entries.length === 0) {
      const ended = await options.idle?.();
      if (ended !== undefined) {
        yield { type: 'completed', data: ended };
        return;
      }
      continue;
    }
    for (const [entryId, fields] of entries) {
      after = entryId;
      const event = decodeEntry(fields);
      if (event === undefined) continue;
      yield event;
      if (event.type === 'completed') return;
    }
  }
}
