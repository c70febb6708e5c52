// A prediction's output made JSON-ready: files through a FileEncoder (data URIs by default; uploads
// are server/upload.ts's), dates, sets, maps; and the files inside an output, for the CLI.
import { readFile } from 'node:fs/promises';
import { Path } from '../predictor/path.js';
import { Secret } from '../predictor/secret.js';
import { mimeFor } from './mime.js';

/** Turns one output file into what goes on the wire (a data URI, or an uploaded file's URL). */
export type FileEncoder = (file: Path) => Promise<string>;

/** Cog's default: a base64 data URI with the MIME type guessed from the file name. */
export const dataUriEncoder: FileEncoder = async (file) =>
  `data:${await mimeFor(file.path)};base64,${(await readFile(file.path)).toString('base64')}`;

/**
 * Makes an output JSON-ready: files (anywhere: in lists, objects, iterator items) become strings
 * through `encodeFile`; dates become ISO 8601; sets and maps become arrays and objects.
 */
export async function encodeOutput(value: unknown, encodeFile: FileEncoder): Promise<unknown> {
  if (value instanceof Path) return encodeFile(value);
  if (value === null || value === undefined) return null;
  if (value instanceof Secret) return Secret.mask;
  if (value instanceof Date) return value.toISOString();
  if (value instanceof URL) return value.href;
  if (typeof value === 'bigint') return Number(value);
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return Array.from(value as unknown as ArrayLike<number>);
  if (Array.isArray(value) || value instanceof Set) {
    return Promise.all([...value].map((item) => encodeOutput(item, encodeFile)));
  }
  if (value instanceof Map) value = Object.fromEntries(value);
  if (typeof value === 'object') {
    const object = value as Record<string, unknown>;
    if (typeof object.toJSON === 'function') return object.toJSON();
    const entries = await Promise.all(
      Object.entries(object)
        .filter(([, field]) => field !== undefined)
        .map(async ([key, field]) => [key, await encodeOutput(field, encodeFile)] as const),
    );
    return Object.fromEntries(entries);
  }
  return value;
}

/** Every `Path` inside an output, for callers that handle files themselves (the CLI). */
export function filesIn(value: unknown, found: Path[] = []): Path[] {
  if (value instanceof Path) found.push(value);
  else if (Array.isArray(value)) for (const item of value) filesIn(item, found);
  else if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    for (const field of Object.values(value)) filesIn(field, found);
  }
  return found;
}
