import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { TSchema } from 'typebox';
import { countDownload } from './download-progress.js';
import { Path } from './path.js';
import type { InputsDeclaration } from './predictor.js';
import { cogKind } from './types.js';
import { extensionFor } from './mime.js';
import { COG_NODE_VERSION } from './version.js';

/** Thrown when a Path input cannot be fetched; the prediction fails with this message. */
export class InputFileError extends Error {
  override name = 'InputFileError';
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
      const file = join(slot, `file${extensionFor(mime)}`);
      await writeFile(file, bytes);
      return new Path(file);
    }
    const url = new URL(value);
    let response: Response;
    try {
      response = await fetch(url, { signal, headers: { 'user-agent': process.env.COG_USER_AGENT ?? `cog-node/${COG_NODE_VERSION}` } });
    } catch (error) {
      throw new InputFileError(`failed to download ${url.href}: ${(error as Error).message}`);
    }
    if (!response.ok || response.body === null) {
      throw new InputFileError(`failed to download ${url.href}: HTTP ${response.status}`);
    }
    const file = join(slot, fileNameFromUrl(url));
    await pipeline(Readable.fromWeb(response.body as WebReadableStream<Uint8Array>), countDownload(url.href, response.headers.get('content-length')), createWriteStream(file));
    return new Path(file);
  }

  async #resolve(value: unknown, signal: AbortSignal): Promise<unknown> {
    if (Array.isArray(value)) return Promise.all(value.map((item) => this.#resolve(item, signal)));
    if (typeof value !== 'string') return value;
    if (value.startsWith('data:') || /^https?:\/\//i.test(value)) return this.#fetch(value, signal);
    return new Path(value);
  }

  /** Replaces each Path/File input's string (or list of strings) by local `Path`s. */
  async resolve(inputs: InputsDeclaration, input: Record<string, unknown>, signal: AbortSignal): Promise<Record<string, unknown>> {
    const resolved = { ...input };
    await Promise.all(
      Object.entries(inputs).map(async ([name, schema]) => {
        if (isFileInput(schema) && resolved[name] !== undefined) {
          resolved[name] = await this.#resolve(resolved[name], signal);
        }
      }),
    );
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
