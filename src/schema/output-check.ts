// Checks a predictor's outputs before they leave its thread: that they can be encoded at all
// (no cycles, functions or symbols), and, as Cog does, that they match `static output`.
import type { TSchema } from 'typebox';
import type * as TypeBoxCompile from '../vendor/typebox-compile.js';
import { OutputError } from '../errors.js';
import { Path } from '../predictor/path.js';
import { Secret } from '../predictor/secret.js';
import { cogKind } from '../predictor/type.js';

type Validator = TypeBoxCompile.Validator;

/**
 * TypeBox's compiler, imported once a predictor is set up rather than with this module: it is
 * ~210 KB of the ~480 KB of modules a predictor's worker compiles before it can load the
 * predictor, and that worker is the longer path to READY (benches/README.md "Cold start").
 */
let compiler: typeof TypeBoxCompile | undefined;
let loading: Promise<void> | undefined;
function loadCompiler(): Promise<void> {
  return (loading ??= import('../vendor/typebox-compile.js').then((module) => {
    compiler = module;
  }));
}

interface CheckError {
  keyword: string;
  schemaPath: string;
  instancePath: string;
  params: Record<string, unknown>;
  message: string;
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'object') {
    const name = (Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null)?.constructor?.name;
    return name && name !== 'Object' ? name : 'object';
  }
  return typeof value;
}

/** `output`, `output.caption`, `output[2].name`: where a part of an output sits. */
function place(where: string, key: string | number): string {
  return typeof key === 'number' || /^\d+$/.test(key) ? `${where}[${key}]` : `${where}.${key}`;
}

interface Unencodable {
  /** Keys from the output down to the part (built on the way back up, only on failure). */
  path: (string | number)[];
  why: string;
}

function findUnencodable(value: unknown, ancestors: object[]): Unencodable | undefined {
  if (typeof value === 'function') return { path: [], why: 'it is a function' };
  if (typeof value === 'symbol') return { path: [], why: 'it is a symbol' };
  if (typeof value !== 'object' || value === null) return undefined;
  if (value instanceof Path || value instanceof Secret || value instanceof Date || value instanceof URL || ArrayBuffer.isView(value))
    return undefined;
  // Neither JSON nor structured clone (the way to the server's thread) can carry these.
  if (value instanceof Promise) return { path: [], why: 'it is a Promise (await it first)' };
  if (value instanceof WeakMap || value instanceof WeakSet || value instanceof WeakRef)
    return { path: [], why: `it is a ${value.constructor.name}` };
  if (ancestors.includes(value)) return { path: [], why: 'it refers back to itself (a circular reference)' };
  ancestors.push(value);
  let found: Unencodable | undefined;
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length && found === undefined; index += 1) {
      const item: unknown = value[index];
      // Numbers and strings (most of a big array) need no call.
      if (typeof item === 'object' || typeof item === 'function' || typeof item === 'symbol') {
        found = findUnencodable(item, ancestors);
        found?.path.unshift(index);
      }
    }
  } else {
    const entries = value instanceof Map ? [...value.entries()] : value instanceof Set ? [...value].entries() : Object.entries(value);
    for (const [key, field] of entries) {
      found = findUnencodable(field, ancestors);
      if (found !== undefined) {
        found.path.unshift(typeof key === 'number' ? key : String(key));
        break;
      }
    }
  }
  ancestors.pop();
  return found;
}

/**
 * Throws `OutputError` naming the first part of `value` that cannot become JSON: a cycle, a
 * function, a symbol, a promise. Walks what the encoder walks (arrays, sets, maps, plain and class objects).
 */
export function checkEncodable(value: unknown, where = 'output'): void {
  const found = findUnencodable(value, []);
  if (found !== undefined) throw new OutputError(`${found.path.reduce<string>(place, where)} cannot be encoded: ${found.why}`);
}

/** Whether every item is a string, number, boolean or null (a plain `for`: 20x faster than `every`). */
function allPlain(items: unknown[]): boolean {
  for (let index = 0; index < items.length; index += 1) {
    const item = items[index];
    if ((typeof item === 'object' && item !== null) || typeof item === 'bigint') return false;
  }
  return true;
}

/** What the schema sees of an output: files, URLs, dates as the strings they go out as. */
function asChecked(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return typeof value === 'bigint' ? Number(value) : value;
  if (value instanceof Path) return value.path;
  if (value instanceof URL) return value.href;
  if (value instanceof Secret) return Secret.mask;
  if (value instanceof Date) return value.toISOString();
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return Array.from(value as unknown as ArrayLike<number>);
  // An array of plain values (most big outputs) is checked as it is, not copied.
  if (Array.isArray(value)) return allPlain(value) ? value : value.map(asChecked);
  if (value instanceof Set) return [...value].map(asChecked);
  const object = value instanceof Map ? Object.fromEntries(value) : (value as Record<string, unknown>);
  if (typeof object.toJSON === 'function') return (object.toJSON as () => unknown)();
  const copy: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(object)) if (field !== undefined) copy[key] = asChecked(field);
  return copy;
}

function valueAt(value: unknown, pointer: string): unknown {
  let node = value;
  for (const key of pointer.split('/').slice(1)) node = (node as Record<string, unknown> | undefined)?.[key];
  return node;
}

function expected(error: CheckError, schema: TSchema): string {
  if (error.keyword === 'anyOf') {
    let node: unknown = schema;
    for (const key of error.schemaPath.split('/').slice(1)) node = (node as Record<string, unknown> | undefined)?.[key];
    const members = (node as { anyOf?: { type?: unknown; const?: unknown }[] } | undefined)?.anyOf ?? [];
    const names = members.map((member) =>
      'const' in member ? JSON.stringify(member.const) : typeof member.type === 'string' ? member.type : 'object',
    );
    return `must be one of: ${[...new Set(names)].join(', ')}`;
  }
  return error.message;
}

/**
 * One predictor's output checks, compiled once: each value (or each item of an iterator
 * output) against `static output`. Without `static output` only encodability is checked. The
 * checks are compiled once TypeBox's compiler has loaded: `ready` (undefined once they are) must
 * be awaited before the first `value` or `item`.
 */
export class OutputChecker {
  readonly #schema: TSchema | undefined;
  #check: Validator | undefined;
  /** What a generator's items are checked against: the items of a declared Iterator (or list). */
  readonly #itemSchema: TSchema | undefined;
  #checkItem: Validator | undefined;
  /** A declared Iterator whose predictor returns one value instead: that value is an item. */
  readonly #iterator: boolean;
  #compiled = false;
  #compiling: Promise<void> | undefined;

  constructor(output: TSchema | undefined) {
    this.#schema = output;
    const kind = cogKind(output);
    this.#iterator = kind === 'iterator' || kind === 'concatenate-iterator';
    const declared = output as { type?: unknown; items?: TSchema } | undefined;
    if (declared?.type === 'array' && declared.items !== undefined) this.#itemSchema = declared.items;
    this.#compiled = output === undefined;
    if (compiler !== undefined) this.#compile(compiler);
  }

  /** Resolves once the checks are compiled; undefined once they are (no await per prediction). */
  get ready(): Promise<void> | undefined {
    if (this.#compiled) return undefined;
    if (compiler !== undefined) return void this.#compile(compiler);
    return (this.#compiling ??= loadCompiler().then(() => this.#compile(compiler!)));
  }

  /** Starts loading the compiler now (after setup: the first prediction then seldom waits for it). */
  prepare(): void {
    void this.ready?.catch(() => undefined);
  }

  #compile({ Compile }: typeof TypeBoxCompile): void {
    if (this.#compiled) return;
    this.#check = Compile(this.#schema!);
    if (this.#itemSchema !== undefined) this.#checkItem = Compile(this.#itemSchema);
    this.#compiled = true;
  }

  /** Checks a whole (non-streamed) output; throws `OutputError`. */
  value(value: unknown): void {
    checkEncodable(value);
    if (this.#iterator && !Array.isArray(value)) this.#match(this.#checkItem, this.#itemSchema, value, 'output');
    else this.#match(this.#check, this.#schema, value, 'output');
  }

  /** Checks the `index`th item a generator yielded; throws `OutputError`. */
  item(value: unknown, index: number): void {
    // Most items are tokens: a string needs neither walk.
    if (typeof value === 'string' && this.#checkItem?.Check(value) !== false) return;
    const where = `output[${index}]`;
    checkEncodable(value, where);
    this.#match(this.#checkItem, this.#itemSchema, value, where);
  }

  #match(check: Validator | undefined, schema: TSchema | undefined, value: unknown, where: string): void {
    if (check === undefined || schema === undefined) return;
    // Strings and numbers (most outputs, every streamed token) are checked as they are.
    const checked = (typeof value === 'object' && value !== null) || typeof value === 'bigint' ? asChecked(value) : value;
    if (check.Check(checked)) return;
    const errors = [...check.Errors(checked)] as CheckError[];
    // A union's members fail one by one before the union does: its summary says more.
    const error = errors.find((candidate) => !/\/anyOf\/\d+/.test(candidate.schemaPath)) ?? errors[0];
    if (error === undefined) throw new OutputError(`${where} does not match the declared output`);
    const part = error.instancePath
      .split('/')
      .slice(1)
      .reduce<string>((at, key) => place(at, key), where);
    const got = valueAt(checked, error.instancePath);
    throw new OutputError(`${part} ${expected(error, schema)}, got ${describeValue(error.instancePath === '' ? value : got)}`);
  }
}
