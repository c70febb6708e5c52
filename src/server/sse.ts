// Server-sent events for a prediction (`Accept: text/event-stream`): its events read from the Rust
// channel with backpressure, replayed to a client reconnecting by PUT; cancelled if its creator
// goes away before the end.
import type { Context } from 'hono';
import { stream } from '../vendor/hono.js';
import { decodeEvent } from '../runtime/events.js';
import type { Prediction } from '../runtime/prediction.js';

/**
 * SSE (`Accept: text/event-stream`, coglet >= 0.21) for every predictor: events `start`,
 * `output` `{chunk,index}`, `log`, `metric`, `completed` (then the stream ends) and `error`,
 * read from the prediction's channel in the Rust core. The client that created the prediction
 * is a lossless consumer: when it reads slowly, the predictor's next output waits, and memory
 * stays bounded. When it goes away before the end, the prediction is cancelled. A `PUT` for an id
 * in flight replays the history (`COG_STREAM_HISTORY_CAPACITY` events) and follows live.
 */

/** Past this many subscribers a prediction answers 429, as coglet. */
const MAX_SUBSCRIBERS = 1024;
const KEEP_ALIVE_MS = 15_000;

/** Any comma-separated media range of type `text/event-stream` asks for SSE (it wins over `Prefer`). */
export function wantsEventStream(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  return accept.split(',').some((range) => range.split(';')[0]!.trim().toLowerCase() === 'text/event-stream');
}

/** An event stream's headers: no caching, and no buffering by a proxy (nginx's `X-Accel-Buffering`). */
function eventStreamHeaders(c: Context): void {
  c.header('Content-Type', 'text/event-stream');
  c.header('Cache-Control', 'no-cache');
  c.header('X-Accel-Buffering', 'no');
}

function frame(name: string, json: string): string {
  return `event: ${name}\ndata: ${json}\n\n`;
}

/** Streams a prediction's events; `createdHere` when this request started it. */
export function streamPrediction(c: Context, prediction: Prediction, options: { createdHere: boolean }): Response {
  const events = prediction.events;
  if (events.consumers >= MAX_SUBSCRIBERS) return c.json({ error: 'Too many stream subscribers' }, 429);
  // The creator replays from the first event (it subscribes after the prediction started);
  // a reconnecting client replays what history holds, if history is kept.
  const consumer = events.reader({ lossless: options.createdHere, replay: options.createdHere || events.replayable });
  eventStreamHeaders(c);
  return stream(c, async (out) => {
    let gone = false;
    out.onAbort(() => {
      gone = true;
      consumer.unsubscribe();
      // The creating client left before the end: nobody will read this prediction.
      if (options.createdHere && !prediction.terminal && events.channel.consumers === 0) prediction.cancel();
    });
    const keepAlive = setInterval(() => void out.write(': keep-alive\n\n').catch(() => undefined), KEEP_ALIVE_MS);
    try {
      const truncated = consumer.missed + (options.createdHere || !events.replayable ? 0 : events.dropped);
      if (truncated > 0) {
        await out.write(frame('error', JSON.stringify({ error: 'SSE stream replay truncated; events were dropped', skipped: truncated })));
        return;
      }
      let completed = false;
      let missed = 0;
      // What is there already is taken synchronously; only an empty channel waits.
      for (let batch = await consumer.read(512); batch !== null && !gone; batch = await consumer.read(512)) {
        if (consumer.missed > missed) {
          await out.write(
            frame('error', JSON.stringify({ error: 'SSE stream lagged; events were dropped', skipped: consumer.missed - missed })),
          );
          return;
        }
        missed = consumer.missed;
        let text = '';
        for (const line of batch.split('\n')) {
          const { name, json } = decodeEvent(line);
          if (name === 'completed') completed = true;
          text += frame(name, json);
        }
        // Awaiting the write is the backpressure: a slow client holds the next read back.
        await out.write(text);
      }
      // A `completed` that found no room in history still ends the stream, from the final state.
      const finalState = consumer.finalState;
      if (!completed && !gone && finalState !== null) await out.write(frame('completed', finalState));
    } finally {
      clearInterval(keepAlive);
      consumer.unsubscribe();
    }
  });
}

/**
 * Streams a queued prediction's events as they are relayed (the gateway: the worker publishes
 * them to Redis); `onGone` (its creator's) is called when the client leaves before `completed`.
 */
export function streamRemote(c: Context, events: AsyncIterable<{ name: string; json: string }>, onGone?: () => void): Response {
  eventStreamHeaders(c);
  return stream(c, async (out) => {
    let completed = false;
    out.onAbort(() => {
      if (!completed) onGone?.();
    });
    const keepAlive = setInterval(() => void out.write(': keep-alive\n\n').catch(() => undefined), KEEP_ALIVE_MS);
    try {
      for await (const { name, json } of events) {
        if (name === 'completed') completed = true;
        await out.write(frame(name, json));
        if (completed || out.aborted) return;
      }
    } finally {
      clearInterval(keepAlive);
    }
  });
}
