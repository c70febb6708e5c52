// Output files uploaded, not inlined: `--upload-url` (PUT <url>/<name>, the raw bytes) and legacy
// `output_file_prefix` (multipart PUT), streamed from disk, each file once per prediction.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { mimeFor } from '../runtime/mime.js';
import { outboundRequest, type OutboundResponse } from '../runtime/outbound.js';
import type { FileEncoder } from '../runtime/output-files.js';
import type { Path } from '../predictor/path.js';
import { currentSettings } from '../load/settings.js';
import { detached } from './server-log.js';

export interface UploadContext {
  predictionId: string;
  /** Aborts uploads when the prediction is cancelled (set once the prediction exists). */
  signal?: () => AbortSignal | undefined;
}

/** A request body that can be produced again (to follow a redirect), with its exact length. */
interface Body {
  open(): Readable;
  length: number;
  contentType: string;
}

/** Cog gives an upload 25 s; a large file streamed from disk gets one more second per MiB. */
function uploadTimeout(bytes: number): number {
  return 25_000 + Math.ceil(bytes / (1 << 20)) * 1000;
}

function headersFor(context: UploadContext, body: Body): Record<string, string> {
  const headers: Record<string, string> = {
    'user-agent': currentSettings().userAgent,
    'x-prediction-id': context.predictionId,
    'content-type': body.contentType,
    'content-length': String(body.length),
  };
  return headers;
}

/**
 * PUTs `body` (following redirects through the guarded outbound request); returns the final
 * response (drained). The body is streamed from disk: `fetch` buffered a streamed request body
 * in memory when the receiver was slower than the disk (a 256 MiB upload raised the peak RSS by
 * ~250 MiB), undici's `request` writes it with backpressure.
 */
async function put(target: URL, body: Body, context: UploadContext, name: string): Promise<OutboundResponse> {
  const timeout = AbortSignal.timeout(uploadTimeout(body.length));
  const canceled = context.signal?.();
  const signal = canceled ? AbortSignal.any([timeout, canceled]) : timeout;
  let response: OutboundResponse;
  try {
    response = await outboundRequest(target, { method: 'PUT', headers: headersFor(context, body), body: body.open, signal });
  } catch (error) {
    const reason = signal.aborted && timeout.aborted ? 'timed out' : (error as Error).message;
    throw new Error(`failed to upload output file ${name} to ${target.href}: ${reason}`);
  }
  await response.body.dump().catch(() => undefined);
  if (!response.ok) throw new Error(`failed to upload output file ${name} to ${response.url.href}: HTTP ${response.status}`);
  return response;
}

/** An upload's `Location` as the output URL, when it is an http(s) URL (never `javascript:` or `file:`). */
function locationOf(response: OutboundResponse): URL | undefined {
  const location = response.headers.location;
  if (typeof location !== 'string' || location === '') return undefined;
  try {
    const url = new URL(location, response.url);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
  } catch {
    return undefined;
  }
}

/** The URL without its query (signed URLs carry credentials there) or fragment. */
function withoutQuery(url: URL): string {
  const bare = new URL(url);
  bare.search = '';
  bare.hash = '';
  return bare.href;
}

/**
 * Each file is encoded once per prediction, even when the runtime asks twice for the same `Path`
 * (a single output is sent as an `output` event and then as the final output).
 */
function once(encode: FileEncoder): FileEncoder {
  const done = new WeakMap<Path, Promise<string>>();
  return (file) => {
    let url = done.get(file);
    if (url === undefined) {
      url = detached(() => encode(file));
      done.set(file, url);
    }
    return url;
  };
}

/**
 * `--upload-url`: `PUT <base>/<basename>` with the raw bytes streamed from disk and the file's
 * MIME type; the output is the response's `Location` (else the final URL), without its query.
 */
export function uploadUrlEncoder(base: string, context: UploadContext): FileEncoder {
  const folder = base.endsWith('/') ? base : `${base}/`;
  return once(async (file) => {
    const { size } = await stat(file.path);
    const body: Body = { open: () => createReadStream(file.path), length: size, contentType: await mimeFor(file.name) };
    const response = await put(new URL(encodeURIComponent(file.name), folder), body, context, file.name);
    return withoutQuery(locationOf(response) ?? response.url);
  });
}

/** `multipart/form-data` with one field `file`, streamed: the file's bytes between two headers. */
async function multipart(file: Path, size: number): Promise<Body> {
  const boundary = `----cog-node-${randomBytes(12).toString('hex')}`;
  const filename = file.name.replace(/["\r\n]/g, (c) => encodeURIComponent(c));
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: ${await mimeFor(file.name)}\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return {
    length: head.length + size + tail.length,
    contentType: `multipart/form-data; boundary=${boundary}`,
    open: () =>
      Readable.from(
        (async function* () {
          yield head;
          yield* createReadStream(file.path);
          yield tail;
        })(),
      ),
  };
}

/**
 * The legacy request field `output_file_prefix` (Cog <= 0.16, sync predictions): `PUT
 * <prefix><basename>` as `multipart/form-data` with one field `file`; the output is that URL.
 */
export function outputFilePrefixEncoder(prefix: string, context: UploadContext): FileEncoder {
  return once(async (file) => {
    const { size } = await stat(file.path);
    const url = new URL(`${prefix}${encodeURIComponent(file.name)}`);
    await put(url, await multipart(file, size), context, file.name);
    return url.href;
  });
}
