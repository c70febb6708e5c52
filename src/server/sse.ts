import type { Context } from 'hono';
import type { Prediction } from '../prediction.js';

/**
 * SSE (`Accept: text/event-stream`, Cog >= 0.21) — the seam for issue 4.
 *
 * The routes already do everything before the stream: envelope and input validation (422),
 * 503/409, idempotent PUT lookup, trainings' 406. When `EVENT_STREAM_SUPPORTED` is true they start
 * the prediction (for `createdHere`, with no sync-disconnect signal: cancelling when the last
 * subscriber leaves is this module's job) and hand it to `streamPrediction`, which must emit Cog's
 * `start`, `output {chunk,index}`, `log {source,data}`, `metric`, `completed` events (with replay
 * of history for a PUT on an id in flight). Until then those requests get 501 before anything
 * starts.
 */
export const EVENT_STREAM_SUPPORTED = false;

/** Any comma-separated media range of type `text/event-stream` asks for SSE (it wins over `Prefer`). */
export function wantsEventStream(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  return accept.split(',').some((range) => range.split(';')[0]!.trim().toLowerCase() === 'text/event-stream');
}

export function notImplemented(c: Context): Response {
  return c.json({ error: 'Streaming responses (Accept: text/event-stream) are not implemented yet.' }, 501);
}

/** Streams a prediction's events; `createdHere` when this request started it. */
export function streamPrediction(c: Context, _prediction: Prediction, _options: { createdHere: boolean }): Response {
  return notImplemented(c);
}
