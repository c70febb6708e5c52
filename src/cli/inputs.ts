// The CLI's inputs: `-i name=value` flags or `--json` made one input object, `@file` being a local
// path for Path/File inputs and a data URI for others. Validating them is the runtime's job.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { TSchema } from 'typebox';
import { mimeFor } from '../runtime/mime.js';
import type { InputsDeclaration } from '../predictor/base-predictor.js';
import { cogKind } from '../predictor/type.js';
import { UsageError } from '../errors.js';

function isFileInput(schema: TSchema | undefined): boolean {
  const kind = cogKind(schema) ?? cogKind((schema as { items?: unknown } | undefined)?.items);
  return kind === 'path' || kind === 'file';
}

/**
 * `@file` means "this file": a local path for Path/File inputs (no need to copy it), a data URI
 * (as Cog's CLI sends) for any other input.
 */
async function fileValue(reference: string, schema: TSchema | undefined, cwd: string): Promise<string> {
  const path = resolve(cwd, reference);
  if (isFileInput(schema)) return path;
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new UsageError(`cannot read ${reference}: ${(error as Error).message}`);
  }
  return `data:${await mimeFor(path)};base64,${bytes.toString('base64')}`;
}

/** `-i name=value` flags → an input object. Repeating a name builds a list. */
export async function inputsFromFlags(flags: string[], declared: InputsDeclaration, cwd: string): Promise<Record<string, unknown>> {
  const input: Record<string, unknown> = {};
  for (const flag of flags) {
    const eq = flag.indexOf('=');
    if (eq <= 0) throw new UsageError(`-i expects name=value, got ${JSON.stringify(flag)}`);
    const name = flag.slice(0, eq);
    const raw = flag.slice(eq + 1);
    const schema = declared[name];
    const value = raw.startsWith('@') ? await fileValue(raw.slice(1), schema, cwd) : raw;
    const previous = input[name];
    if (previous === undefined) {
      input[name] = (schema as { type?: unknown } | undefined)?.type === 'array' ? [value] : value;
    } else {
      input[name] = Array.isArray(previous) ? [...previous, value] : [previous, value];
    }
  }
  return input;
}

/** `--json '{...}'`, `--json @file.json` or `--json @-` (stdin). `"@path"` strings are files. */
export async function inputsFromJson(argument: string, declared: InputsDeclaration, cwd: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text =
      argument === '@-'
        ? readFileSync(0, 'utf8')
        : argument.startsWith('@')
          ? readFileSync(resolve(cwd, argument.slice(1)), 'utf8')
          : argument;
  } catch (error) {
    throw new UsageError(`cannot read --json ${argument}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--json is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new UsageError('--json must be a JSON object of inputs');
  const input: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(parsed)) {
    const schema = declared[name];
    const file = async (item: unknown) => (typeof item === 'string' && item.startsWith('@') ? fileValue(item.slice(1), schema, cwd) : item);
    input[name] = Array.isArray(value) ? await Promise.all(value.map(file)) : await file(value);
  }
  return input;
}
