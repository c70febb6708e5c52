// A prediction's Path/File inputs made local files: URLs downloaded (through outbound.ts, with size
// and stall limits) and data URIs decoded, into one temp folder removed when the prediction ends.
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { TSchema } from 'typebox';
import { countDownload } from './download-progress.js';
import { InputFileError, OutboundRequestError } from '../errors.js';
import { displayUrl, outboundRequest, requestProblem } from './outbound.js';
import { Path } from '../predictor/path.js';
import type { InputsDeclaration } from '../predictor/base-predictor.js';
import { currentSettings } from '../load/settings.js';
import { cogKind } from '../predictor/type.js';
import { extensionFor } from './mime.js';

/** Why a download failed, in words (undici's timeouts say which setting to raise). */
function downloadProblem(error: unknown, stallSeconds: number): string {
  if (error instanceof OutboundRequestError) return error.message;
  const code = (error as { code?: unknown }).code;
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return `no response within ${stallSeconds} s (COG_DOWNLOAD_STALL_TIMEOUT)`;
  if (code === 'UND_ERR_BODY_TIMEOUT') return `stalled: no data for ${stallSeconds} s (COG_DOWNLOAD_STALL_TIMEOUT)`;
  return requestProblem(error);
}

/** Passes bytes through until there are more than `max` of them. */
function sizeLimit(max: number): Transform {
  let size = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      size += chunk.length;
      if (size > max) callback(new OutboundRequestError(`larger than COG_MAX_DOWNLOAD_BYTES (${max} bytes)`));
      else callback(null, chunk);
    },
  });
}

/** Cog's rule: the URL's basename, URL-decoded, at most 200 bytes, no `/` or NUL. */
function fileNameFromUrl(url: URL): string {
  const last = url.pathname.split('/').filter(Boolean).pop() ?? '';
  let name: string;
  try {
    name = decodeURIComponent(last);
  } catch {
    name = last;
  }
  name = name.replace(/[/\0]/g, '_');
  while (Buffer.byteLength(name) > 200) name = name.slice(1);
  return name || 'file';
}

/** A data URI's bytes and MIME type, decoded by the platform's `fetch` (base64 and percent-encoding, per the spec). */
async function decodeDataUri(uri: string): Promise<{ bytes: Buffer; mime: string }> {
  let response: Response;
  try {
    response = await fetch(uri);
  } catch (error) {
    const cause = (error as Error & { cause?: Error }).cause;
    throw new InputFileError(`invalid data URI: ${cause?.message ?? (error as Error).message}`);
  }
  const mime = response.headers.get('content-type') ?? 'text/plain';
  return { bytes: Buffer.from(await response.arrayBuffer()), mime };
}

/**
 * Makes local files of a prediction's Path inputs (downloading URLs in parallel, decoding data
 * URIs) in a temp folder that `cleanup()` removes, whatever the prediction's end.
 */
export class InputFiles {
  /** A promise, so that inputs resolved in parallel share one folder (and cleanup finds it). */
  #dir: Promise<string> | undefined;
  #count = 0;

  async #folder(): Promise<string> {
    this.#dir ??= mkdtemp(join(tmpdir(), 'cog-node-input-'));
    return this.#dir;
  }

  async #fetch(value: string, signal: AbortSignal): Promise<Path> {
    const slot = join(await this.#folder(), String(this.#count++));
    await mkdir(slot);
    if (value.startsWith('data:')) {
      const { bytes, mime } = await decodeDataUri(value);
      const file = join(slot, `file${await extensionFor(mime)}`);
      await writeFile(file, bytes);
      return new Path(file);
    }
    const url = new URL(value);
    const { downloadStallTimeout: stall, maxDownloadBytes: max, userAgent } = currentSettings();
    const fail = (problem: string) => new InputFileError(`failed to download ${displayUrl(url)}: ${problem}`);
    try {
      const response = await outboundRequest(url, {
        headers: { 'user-agent': userAgent },
        signal,
        headersTimeoutMs: stall * 1000,
        bodyTimeoutMs: stall * 1000,
      });
      if (!response.ok) {
        await response.body.dump().catch(() => undefined);
        throw fail(`HTTP ${response.status}`);
      }
      const declared = Number(response.headers['content-length']);
      if (max !== undefined && declared > max) {
        // Closes the connection instead of reading it; undici reports that as an error event.
        response.body.on('error', () => undefined).destroy();
        throw fail(`larger than COG_MAX_DOWNLOAD_BYTES (${max} bytes)`);
      }
      const file = join(slot, fileNameFromUrl(url));
      const length = response.headers['content-length'];
      const progress = countDownload(displayUrl(url), typeof length === 'string' ? length : null);
      const streams =
        max === undefined
          ? ([response.body, progress, createWriteStream(file)] as const)
          : ([response.body, sizeLimit(max), progress, createWriteStream(file)] as const);
      await pipeline(streams);
      return new Path(file);
    } catch (error) {
      if (error instanceof InputFileError) throw error;
      throw fail(downloadProblem(error, stall));
    }
  }

  async #resolve(value: unknown, signal: AbortSignal): Promise<unknown> {
    if (Array.isArray(value)) return Promise.all(value.map((item) => this.#resolve(item, signal)));
    if (typeof value !== 'string') return value;
    if (value.startsWith('data:') || /^https?:\/\//i.test(value)) return this.#fetch(value, signal);
    return new Path(value);
  }

  /**
   * Replaces each Path/File input's string (or list of strings) by local `Path`s.
   *
   * `signal` is asked for only when there is a file to fetch: the prediction makes its
   * AbortController on demand, and asking for it on every prediction cost ~25 µs of CPU per echo
   * request under wrk (141 → 117 µs, side by side), mostly GC (Node 20's AbortSignals are costly
   * to collect: main-thread GC 11 → 2 µs a request, CPU profile). No async call for a non-file input.
   */
  async resolve(inputs: InputsDeclaration, input: Record<string, unknown>, signal: () => AbortSignal): Promise<Record<string, unknown>> {
    const resolved = { ...input };
    const pending: Promise<void>[] = [];
    for (const [name, schema] of Object.entries(inputs)) {
      if (isFileInput(schema) && resolved[name] !== undefined) {
        pending.push(
          (async () => {
            resolved[name] = await this.#resolve(resolved[name], signal());
          })(),
        );
      }
    }
    if (pending.length > 0) await Promise.all(pending);
    return resolved;
  }

  async cleanup(): Promise<void> {
    const dir = await this.#dir?.catch(() => undefined);
    this.#dir = undefined;
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  }
}

function isFileInput(schema: TSchema): boolean {
  const kind = cogKind(schema) ?? cogKind((schema as unknown as { items?: unknown }).items);
  return kind === 'path' || kind === 'file';
}
