// MIME types from file names, and extensions from MIME types, as Cog guesses them. The `mime`
// package (ES modules only, so it cannot be required on demand) is imported at the first file
// that needs a type, not at start: its tables cost a thread ~10 ms of CPU and ~3.5 MiB.
import type { Mime } from 'mime';

let loading: Promise<Mime> | undefined;
const mime = (): Promise<Mime> => (loading ??= import('mime').then((module) => module.default));

/** The MIME type of a file, from its name; `application/octet-stream` when unknown (as Cog). */
export async function mimeFor(fileName: string): Promise<string> {
  return (await mime()).getType(fileName) ?? 'application/octet-stream';
}

/** The extension with its dot for a MIME type (`.png`), or `''` when unknown. */
export async function extensionFor(mimeType: string): Promise<string> {
  const extension = (await mime()).getExtension(mimeType.split(';')[0]!.trim());
  return extension ? `.${extension}` : '';
}
