// MIME types from file names, and extensions from MIME types, as Cog guesses them.
import mime from 'mime';

/** The MIME type of a file, from its name; `application/octet-stream` when unknown (as Cog). */
export function mimeFor(fileName: string): string {
  return mime.getType(fileName) ?? 'application/octet-stream';
}

/** The extension with its dot for a MIME type (`.png`), or `''` when unknown. */
export function extensionFor(mimeType: string): string {
  const extension = mime.getExtension(mimeType.split(';')[0]!.trim());
  return extension ? `.${extension}` : '';
}
