// A request as the prediction routes read it (`RouteRequest`: from Hono or straight from node:http),
// its body read straight from Node's stream, at most 100 MiB (413) and only JSON (415); a client
// hanging up before its answer; and the response that a refusal (errors.ts) gives.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from 'hono';
import { BodyTooLargeError, UnsupportedMediaTypeError, type CogNodeError } from '../errors.js';

/** Cog (coglet) refuses request bodies over 100 MiB. */
export const MAX_BODY_BYTES = 100 * 1024 * 1024;

/** The body's bytes, in one Buffer with an ArrayBuffer of its own (so it can be moved to another thread). */
export type BodyResult = { ok: true; bytes: Buffer } | { ok: false; error: CogNodeError };

/**
 * A request as the prediction routes read it: through Hono's Context (`honoRequest`), or straight
 * from node:http (fast-path.ts), so both run the same route code.
 */
export interface RouteRequest {
  /** A header's value (`name` in lower case); undefined when absent. */
  header(name: string): string | undefined;
  /** Node's request stream: under @hono/node-server, or node:http itself. */
  readonly incoming: IncomingMessage | undefined;
  /** Node's response, watched for a client that hangs up. */
  readonly outgoing: ServerResponse | undefined;
  /** The web Request, for an adapter without Node's streams; undefined on node:http. */
  readonly raw: Request | undefined;
}

interface NodeBindings {
  incoming?: IncomingMessage;
  outgoing?: ServerResponse;
}

/** A Hono Context's request as the routes read it. */
export function honoRequest(c: Context): RouteRequest {
  const { incoming, outgoing } = (c.env ?? {}) as NodeBindings;
  return { header: (name) => c.req.header(name), incoming, outgoing, raw: c.req.raw };
}

/** The answer a refusal gives (errors.ts): its own status and body. */
export function errorResponse(c: Context, error: CogNodeError): Response {
  return c.json(error.body(), error.status, error.headers());
}

function tooLarge(): BodyResult {
  return { ok: false, error: new BodyTooLargeError(String(MAX_BODY_BYTES)) };
}

/** `application/json` or a `+json` type (`application/merge-patch+json`), parameters aside. */
function isJsonType(contentType: string): boolean {
  // What nearly every client sends, answered without the split, lower-casing and regex below.
  if (contentType === 'application/json') return true;
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  return type === 'application/json' || /^application\/[\w.+-]+\+json$/.test(type);
}

/**
 * 415 for a body that says it is not JSON, as coglet (axum's `Json`) answers. A missing
 * `Content-Type` is still read as JSON, as before. Refusing `text/plain` is what keeps a
 * browser's no-preflight cross-site POST from running a prediction even where CORS allows it.
 */
function unsupportedType(contentType: string | undefined): BodyResult | undefined {
  if (contentType === undefined || isJsonType(contentType)) return undefined;
  const type = contentType.split(';')[0]!.trim() || contentType;
  return { ok: false, error: new UnsupportedMediaTypeError(type) };
}

/**
 * Whether `readBody` reads this request's body to its end whatever comes (a declared JSON body
 * within the limit): then no refusal leaves part of it unread. The fast path takes only these.
 */
export function readsWhole(request: RouteRequest): boolean {
  const declared = Number(request.header('content-length') ?? Number.NaN);
  return Number.isSafeInteger(declared) && declared <= MAX_BODY_BYTES && unsupportedType(request.header('content-type')) === undefined;
}

/** Whether `chunk` is `length` bytes over the whole of an ArrayBuffer of its own (movable as it is). */
function ownsWhole(chunk: Buffer, length: number): boolean {
  return chunk.length === length && chunk.byteOffset === 0 && chunk.buffer.byteLength === length;
}

/**
 * Gathers a body into one Buffer with an ArrayBuffer of its own. With a declared length the chunks
 * are copied into it as they come, so the body is never held twice (chunks and their
 * concatenation: 90 MiB more at the peak for a 90 MiB body); its pages are only touched as data
 * arrives, so a length announced but never sent costs no memory. A body that comes whole in one
 * chunk of its own (node:http copies each chunk out of the socket's buffer: nearly every small
 * request) is that chunk, without a second buffer and a copy.
 */
class BodyBytes {
  readonly #declared: number | undefined;
  /** The declared length's bytes so far: the one whole chunk, or a buffer of that length copied into. */
  #target: Buffer | undefined;
  /** The chunks, once they no longer fit the declared length (or none was declared). */
  #chunks: Buffer[] | undefined;
  #size = 0;

  constructor(declared: number) {
    if (Number.isSafeInteger(declared) && declared >= 0) this.#declared = declared;
    else this.#chunks = [];
  }

  add(chunk: Buffer): void {
    const declared = this.#declared;
    if (this.#chunks === undefined && declared !== undefined && this.#size + chunk.length <= declared) {
      if (this.#size === 0 && ownsWhole(chunk, declared)) this.#target = chunk;
      else chunk.copy((this.#target ??= Buffer.allocUnsafeSlow(declared)), this.#size);
    } else {
      const chunks = (this.#chunks ??= []);
      if (this.#target !== undefined) chunks.push(this.#target.subarray(0, this.#size));
      this.#target = undefined;
      chunks.push(chunk);
    }
    this.#size += chunk.length;
  }

  bytes(): Buffer {
    const chunks = this.#chunks;
    if (chunks === undefined) {
      const target = this.#target ?? Buffer.allocUnsafeSlow(0);
      // The declared length, all of it (nearly every body): Buffer#subarray cost ~1 µs a request.
      return this.#size === target.length ? target : target.subarray(0, this.#size);
    }
    const bytes = Buffer.allocUnsafeSlow(this.#size);
    let offset = 0;
    for (const chunk of chunks) offset += chunk.copy(bytes, offset);
    return bytes;
  }
}

/**
 * The request body, at most 100 MiB (else 413, without reading the rest); a declared non-JSON
 * type is 415. Under
 * `@hono/node-server` it is read straight from Node's request stream: building the web `Request`
 * and its `ReadableStream` cost more than everything else a small prediction does.
 */
export async function readBody(request: RouteRequest): Promise<BodyResult> {
  const refused = unsupportedType(request.header('content-type'));
  if (refused !== undefined) return refused;
  const declared = Number(request.header('content-length') ?? Number.NaN);
  if (declared > MAX_BODY_BYTES) return tooLarge();
  const { incoming, raw } = request;
  const body = new BodyBytes(declared);
  let size = 0;
  if (incoming !== undefined && typeof incoming.on === 'function' && !incoming.readableEnded) {
    const complete = await new Promise<boolean>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        size += chunk.length;
        if (size <= MAX_BODY_BYTES) return void body.add(chunk);
        incoming.off('data', onData);
        incoming.pause();
        resolve(false);
      };
      incoming.on('data', onData);
      incoming.once('end', () => resolve(true));
      incoming.once('error', reject);
    });
    if (!complete) return tooLarge();
  } else if (raw !== undefined && raw.body !== null) {
    const reader = raw.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > MAX_BODY_BYTES) {
        await reader.cancel();
        return tooLarge();
      }
      body.add(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
    }
  }
  return { ok: true, bytes: body.bytes() };
}

/**
 * `readBody` with callbacks, for the fast path (fast-path.ts): no promise, no turn of its own.
 * Only for a request `readsWhole` accepts (a JSON body of declared length within the limit, which
 * node:http holds the body to), so nothing is refused here; `failed` is the stream's error.
 */
export function readDeclaredBody(
  incoming: IncomingMessage,
  declared: number,
  then: (bytes: Buffer) => void,
  failed: (error: unknown) => void,
): void {
  const body = new BodyBytes(declared);
  let settled = false;
  incoming.on('data', (chunk: Buffer) => body.add(chunk));
  incoming.on('end', () => {
    if (settled) return;
    settled = true;
    then(body.bytes());
  });
  incoming.on('error', (error) => {
    if (settled) return;
    settled = true;
    failed(error);
  });
}

/**
 * Cancels `prediction` if the client goes away before its response is complete (at once if it has
 * gone); returns the `close` listener (undefined if it had gone). For the fast path, which never
 * stops watching (once answered, a close does nothing): no closure for the cancel nor for an
 * unwatch it would not call.
 */
export function cancelOnHangUp(outgoing: ServerResponse, prediction: { cancel(): void }): (() => void) | undefined {
  if (outgoing.destroyed) {
    prediction.cancel();
    return undefined;
  }
  const onClose = () => {
    if (!outgoing.writableFinished) prediction.cancel();
  };
  // `on`, not `once`: a response closes once, and `once` wraps each listener in two objects more.
  outgoing.on('close', onClose);
  return onClose;
}

/**
 * Calls `onHangUp` if the client goes away before its response is complete; returns a function
 * that stops watching. Uses Node's response `close` event when there is one (cheaper than the
 * request's `AbortSignal`, which the adapter builds on demand).
 */
export function watchHangUp(request: RouteRequest, onHangUp: () => void): () => void {
  const { outgoing, raw } = request;
  if (outgoing !== undefined && typeof outgoing.once === 'function') {
    const onClose = cancelOnHangUp(outgoing, { cancel: onHangUp });
    return onClose === undefined ? () => undefined : () => outgoing.off('close', onClose);
  }
  if (raw === undefined) return () => undefined;
  const signal = raw.signal;
  if (signal.aborted) onHangUp();
  signal.addEventListener('abort', onHangUp, { once: true });
  return () => signal.removeEventListener('abort', onHangUp);
}
