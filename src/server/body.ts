import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from 'hono';

/** Cog (coglet) refuses request bodies over 100 MiB. */
export const MAX_BODY_BYTES = 100 * 1024 * 1024;

/** The body's bytes, in one Buffer with an ArrayBuffer of its own (so it can be moved to another thread). */
export type BodyResult = { ok: true; bytes: Buffer } | { ok: false; response: Response };

interface NodeBindings {
  incoming?: IncomingMessage;
  outgoing?: ServerResponse;
}

function bindings(c: Context): NodeBindings {
  return (c.env ?? {}) as NodeBindings;
}

function tooLarge(c: Context): BodyResult {
  return { ok: false, response: c.json({ error: `Request body is larger than ${MAX_BODY_BYTES} bytes (100 MiB)`, status: 'failed' }, 413) };
}

/**
 * The request body, at most 100 MiB (else 413, without reading the rest). Under
 * `@hono/node-server` it is read straight from Node's request stream: building the web `Request`
 * and its `ReadableStream` cost more than everything else a small prediction does.
 */
export async function readBody(c: Context): Promise<BodyResult> {
  const declared = Number(c.req.header('content-length') ?? Number.NaN);
  if (declared > MAX_BODY_BYTES) return tooLarge(c);
  const { incoming } = bindings(c);
  const chunks: Buffer[] = [];
  let size = 0;
  if (incoming !== undefined && typeof incoming.on === 'function' && !incoming.readableEnded) {
    const complete = await new Promise<boolean>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        size += chunk.length;
        if (size <= MAX_BODY_BYTES) return void chunks.push(chunk);
        incoming.off('data', onData);
        incoming.pause();
        resolve(false);
      };
      incoming.on('data', onData);
      incoming.once('end', () => resolve(true));
      incoming.once('error', reject);
    });
    if (!complete) return tooLarge(c);
  } else if (c.req.raw.body !== null) {
    const reader = c.req.raw.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > MAX_BODY_BYTES) {
        await reader.cancel();
        return tooLarge(c);
      }
      chunks.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
    }
  }
  // Copied once into a Buffer of its own: chunks may share their ArrayBuffer with other data.
  const bytes = Buffer.allocUnsafeSlow(size);
  let offset = 0;
  for (const chunk of chunks) offset += chunk.copy(bytes, offset);
  return { ok: true, bytes };
}

/**
 * Calls `onHangUp` if the client goes away before its response is complete; returns a function
 * that stops watching. Uses Node's response `close` event when there is one (cheaper than the
 * request's `AbortSignal`, which the adapter builds on demand).
 */
export function watchHangUp(c: Context, onHangUp: () => void): () => void {
  const { outgoing } = bindings(c);
  if (outgoing !== undefined && typeof outgoing.once === 'function') {
    if (outgoing.destroyed) {
      onHangUp();
      return () => undefined;
    }
    const onClose = () => {
      if (!outgoing.writableFinished) onHangUp();
    };
    outgoing.once('close', onClose);
    return () => outgoing.off('close', onClose);
  }
  const signal = c.req.raw.signal;
  if (signal.aborted) onHangUp();
  signal.addEventListener('abort', onHangUp, { once: true });
  return () => signal.removeEventListener('abort', onHangUp);
}
