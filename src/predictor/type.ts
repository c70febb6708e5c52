// `Type`: TypeBox's types plus Cog's own (Path, File, Secret, Iterator, ConcatenateIterator),
// marked in the schema by COG_KIND (`~cog`), which `cogKind()` reads back.
import type { Static, TSchema, TUnsafe } from 'typebox';
import { TypeBox } from '../vendor/typebox.js';
import type { Path } from './path.js';
import type { Secret } from './secret.js';

/** How cog-node marks its own types inside a TypeBox schema (never emitted in OpenAPI). */
export const COG_KIND = '~cog';

export type CogKind = 'path' | 'file' | 'secret' | 'iterator' | 'concatenate-iterator';

export type TPath = TUnsafe<Path> & { [COG_KIND]: 'path' };
export type TFile = TUnsafe<Path> & { [COG_KIND]: 'file' };
export type TSecret = TUnsafe<Secret> & { [COG_KIND]: 'secret' };
export type TIterator<T extends TSchema> = TUnsafe<AsyncIterable<Static<T>> | Iterable<Static<T>>> & {
  [COG_KIND]: 'iterator';
  items: T;
};
export type TConcatenateIterator<T extends TSchema> = TUnsafe<AsyncIterable<Static<T>> | Iterable<Static<T>>> & {
  [COG_KIND]: 'concatenate-iterator';
  items: T;
};

function cogType<T>(kind: CogKind, schema: Record<string, unknown>): TUnsafe<T> {
  return TypeBox.Unsafe<T>({ ...schema, [COG_KIND]: kind });
}

/** A local file input or output. On the wire: a URL or data URI (`format: uri`). */
function PathType(options: Record<string, unknown> = {}): TPath {
  return cogType<Path>('path', { ...options, type: 'string' }) as TPath;
}

/** Cog's deprecated `File`; here it arrives as a `Path` too. */
function FileType(options: Record<string, unknown> = {}): TFile {
  return cogType<Path>('file', { ...options, type: 'string' }) as TFile;
}

/** A string whose value never appears in responses or logs. */
function SecretType(options: Record<string, unknown> = {}): TSecret {
  return cogType<Secret>('secret', { ...options, type: 'string' }) as TSecret;
}

/** Streamed output: `predict` is a generator; each `yield` is sent as it happens. */
function IteratorType<T extends TSchema>(items: T): TIterator<T> {
  return cogType('iterator', { type: 'array', items }) as TIterator<T>;
}

/** Streamed text whose pieces a UI concatenates (still an array of strings on the wire). */
function ConcatenateIteratorType<T extends TSchema>(items: T): TConcatenateIterator<T> {
  return cogType('concatenate-iterator', { type: 'array', items }) as TConcatenateIterator<T>;
}

/** TypeBox's `Type` plus Cog's own types. */
export const Type = {
  ...TypeBox,
  Path: PathType,
  File: FileType,
  Secret: SecretType,
  Iterator: IteratorType,
  ConcatenateIterator: ConcatenateIteratorType,
};

export function cogKind(schema: unknown): CogKind | undefined {
  if (typeof schema !== 'object' || schema === null) return undefined;
  return (schema as Record<string, unknown>)[COG_KIND] as CogKind | undefined;
}

export type { Static, TSchema };
