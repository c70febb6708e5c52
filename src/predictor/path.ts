// `Path`: a local file, as a predictor receives a Path/File input and returns an output file.
// Downloading inputs is runtime/input-files.ts's job; encoding outputs, runtime/output-files.ts's.
import { createReadStream, type ReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { brand } from './brand.js';

/**
 * A local file: what `predict` receives for a `Type.Path()` input (after the server downloaded a
 * URL or decoded a data URI), and what it returns to send a file back. `String(p)` is the path.
 */
export class Path {
  readonly path: string;

  constructor(path: string | Path) {
    this.path = String(path);
  }

  /** The file's name, without its folder. */
  get name(): string {
    return basename(this.path);
  }

  /** The extension with its dot (`.png`), or `''`. */
  get suffix(): string {
    return extname(this.path);
  }

  read(): Promise<Buffer> {
    return readFile(this.path);
  }

  readText(encoding: BufferEncoding = 'utf8'): Promise<string> {
    return readFile(this.path, encoding);
  }

  createReadStream(): ReadStream {
    return createReadStream(this.path);
  }

  toString(): string {
    return this.path;
  }

  toJSON(): string {
    return this.path;
  }
}

brand(Path, 'Path');
