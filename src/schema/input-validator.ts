// A prediction's input checked against the declared inputs with Cog's rules: defaults, required
// fields, one 422 entry per broken field, files only as URLs over HTTP, limits; Secrets wrapped.
import type { TSchema } from 'typebox';
import { Compile, type Validator } from '../vendor/typebox-compile.js';
import { isRecord, type CheckedInput } from './declaration.js';
import { InputValidationError, type ValidationIssue } from '../errors.js';
import { Path } from '../predictor/path.js';
import { Secret } from '../predictor/secret.js';
import { cogKind } from '../predictor/type.js';

interface LocalizedError {
  keyword: string;
  instancePath: string;
  schemaPath: string;
  params: Record<string, unknown>;
  message: string;
}

export interface ValidateOptions {
  /** Convert strings to numbers, booleans and lists where the schema asks (the CLI's `-i k=v`). */
  coerce?: boolean;
  /**
   * Accept local paths for Path/File inputs, not only `http(s)` URLs and `data:` URIs: for the
   * CLI's `-i name=@file` and embedding apps, which are the operator. Never over HTTP, where a
   * path string would hand the server's own files (`/etc/passwd`) to the predictor.
   */
  allowLocalPaths?: boolean;
}

/** At most this many entries in a 422 (the first ones), so a bad request gets a small answer. */
export const MAX_VALIDATION_ISSUES = 50;
/** Each 422 message is cut to this many bytes. */
const MAX_MESSAGE_BYTES = 300;
/**
 * Lists and objects nested deeper than this in one input are a 422: walkers of the value (ours,
 * structured clone to the worker, JSON.stringify of the response) recurse and a 10^5-deep array
 * overflowed the stack (a 500). Cog's inputs are rarely more than 3 deep.
 */
export const MAX_INPUT_DEPTH = 64;

type JsonObject = Record<string, unknown>;

function isPlainObject(value: unknown): value is JsonObject {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Turns values an embedding app may pass (`Path`, `Secret`) into their wire form. */
function toWire(value: unknown): unknown {
  if (value instanceof Path) return value.path;
  if (value instanceof Secret) return value.getSecretValue();
  if (value instanceof URL) return value.href;
  if (Array.isArray(value)) return value.map(toWire);
  if (isPlainObject(value)) return Object.fromEntries(Object.entries(value).map(([key, field]) => [key, toWire(field)]));
  return value;
}

/** Whether lists and plain objects nest deeper than `limit` in `value` (walked without recursion). */
function nestsDeeperThan(value: unknown, limit: number): boolean {
  // A string or number nests nothing: no stack to allocate for the commonest inputs.
  if (typeof value !== 'object' || value === null) return false;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    const children = Array.isArray(node) ? node : isPlainObject(node) ? Object.values(node) : undefined;
    if (children === undefined) continue;
    if (depth + 1 > limit) return true;
    for (const child of children) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}

/** `text` cut to at most `max` bytes of UTF-8 (an ellipsis says it was cut). */
function clip(text: string, max = MAX_MESSAGE_BYTES): string {
  if (Buffer.byteLength(text) <= max) return text;
  let cut = text.slice(0, max);
  while (Buffer.byteLength(cut) > max - 3) cut = cut.slice(0, -1);
  return `${cut}...`;
}

/** Cog's rule for a Path/File string (its `Path.validate`): a URL the server may fetch, nothing local. */
function isRemoteFile(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  return url.protocol === 'http:' || url.protocol === 'https:' || url.protocol === 'data:';
}

function isFileKind(schema: unknown): boolean {
  const kind = cogKind(schema);
  return kind === 'path' || kind === 'file';
}

/** Where in a Path/File input (`''` or `/index`) a string names a local file, if anywhere. */
function localFileAt(schema: JsonObject, value: unknown): string | undefined {
  if (isFileKind(schema)) return typeof value === 'string' && !isRemoteFile(value) ? '' : undefined;
  if (Array.isArray(value) && isFileKind(schema.items)) {
    const index = value.findIndex((item) => typeof item === 'string' && !isRemoteFile(item));
    return index >= 0 ? `/${index}` : undefined;
  }
  return undefined;
}

/**
 * Where (a JSON pointer under the input) a valid value holds an integer beyond 2^53 - 1: JSON.parse
 * has already rounded it, so accepting it would hand the predictor another number than was sent.
 */
function unsafeIntegerAt(schema: unknown, value: unknown): string | undefined {
  if (!isRecord(schema)) return undefined;
  const unsafe = typeof value === 'number' && Number.isInteger(value) && !Number.isSafeInteger(value);
  if (schema.type === 'integer') return unsafe ? '' : undefined;
  if (Array.isArray(schema.anyOf)) {
    const members = schema.anyOf as JsonObject[];
    if (unsafe)
      return members.some((member) => member.type === 'integer') && !members.some((member) => member.type === 'number') ? '' : undefined;
    for (const member of members) {
      const at = unsafeIntegerAt(member, value);
      if (at !== undefined) return at;
    }
    return undefined;
  }
  if (Array.isArray(value) && isRecord(schema.items)) {
    for (let index = 0; index < value.length; index++) {
      const at = unsafeIntegerAt(schema.items, value[index]);
      if (at !== undefined) return `/${index}${at}`;
    }
  } else if (isRecord(value) && isRecord(schema.properties)) {
    for (const [key, property] of Object.entries(schema.properties)) {
      const at = unsafeIntegerAt(property, value[key]);
      if (at !== undefined) return `/${key}${at}`;
    }
  }
  return undefined;
}

const validators = new WeakMap<object, Validator>();

function validatorFor(schema: TSchema): Validator {
  let validator = validators.get(schema);
  if (validator === undefined) {
    validator = Compile(schema);
    validators.set(schema, validator);
  }
  return validator;
}

/**
 * The first error worth reporting for a value that failed `schema`. TypeBox's `Errors()` lists
 * every error at once: for a 10 MB list of strings in an integer list that was a million objects
 * (3 GB, 10 s). A list's items are checked one by one instead, and only the first bad one is
 * described; the list's own rules are described once its items pass.
 */
function firstError(schema: TSchema, value: unknown): LocalizedError | undefined {
  const items = (schema as unknown as JsonObject).items;
  if (Array.isArray(value) && (schema as unknown as JsonObject).type === 'array' && isRecord(items)) {
    const check = validatorFor(items as unknown as TSchema);
    for (let index = 0; index < value.length; index++) {
      if (check.Check(value[index])) continue;
      const inner = firstError(items as unknown as TSchema, value[index]);
      if (inner !== undefined) return { ...inner, instancePath: `/${index}${inner.instancePath}` };
    }
  }
  const errors = validatorFor(schema).Errors(value) as LocalizedError[];
  // For a choice or union, the member errors say less than the summary that follows them.
  return (
    errors.find((error) => error.keyword !== 'const' && (error.keyword === 'anyOf' || !/\/anyOf\/\d+/.test(error.schemaPath))) ?? errors[0]
  );
}

/**
 * The CLI's strings as the schema's types: `"3"` → 3 for an integer (but `"3.5"` stays a string
 * and fails, rather than silently becoming 3), `"true"`/`"false"` for booleans, one value for a
 * list → a list of one. Anything that does not convert cleanly is left for validation to reject.
 */
function coerce(value: unknown, schema: JsonObject | undefined): unknown {
  if (schema === undefined) return value;
  if (schema.type === 'array') {
    const items = schema.items as JsonObject | undefined;
    return (Array.isArray(value) ? value : [value]).map((item) => coerce(item, items));
  }
  if (Array.isArray(schema.anyOf)) {
    // A union takes the first member the value converts to cleanly (most specific first, as Cog).
    for (const member of schema.anyOf as JsonObject[]) {
      const converted = coerce(value, member);
      if (converted !== value || member.type === typeof value) return converted;
    }
    return value;
  }
  if (typeof value !== 'string') return value;
  const text = value.trim();
  switch (schema.type) {
    case 'integer':
      return /^[+-]?\d+$/.test(text) ? Number(text) : value;
    case 'number':
      return text !== '' && Number.isFinite(Number(text)) ? Number(text) : value;
    case 'boolean':
      if (/^true$/i.test(text)) return true;
      if (/^false$/i.test(text)) return false;
      return value;
    default:
      return value;
  }
}

const REMOTE_FILE_RULE = 'must be an http(s) URL or a data: URI (local paths are not accepted)';

function typeNames(members: JsonObject[]): string[] {
  return members.map((member) => (typeof member.type === 'string' ? member.type : 'object'));
}

function describe(error: LocalizedError, schema: JsonObject | undefined, options: ValidateOptions): string {
  if (error.keyword === 'enum' && Array.isArray(error.params.allowedValues)) {
    return `must be one of: ${(error.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
  }
  if (error.keyword === 'anyOf' && schema !== undefined) {
    // Find the union the error is about: the input's own, or its list's items.
    const union = Array.isArray(schema.anyOf) ? schema : isRecord(schema.items) ? schema.items : undefined;
    const members = Array.isArray(union?.anyOf) ? (union.anyOf as JsonObject[]) : undefined;
    if (members !== undefined && members.every((member) => 'const' in member)) {
      return `must be one of: ${members.map((member) => JSON.stringify(member.const)).join(', ')}`;
    }
    if (members !== undefined) return `must be one of these types: ${[...new Set(typeNames(members))].join(', ')}`;
  }
  if (error.keyword === 'type' && schema && cogKind(schema) !== undefined) {
    return isFileKind(schema) && !options.allowLocalPaths ? REMOTE_FILE_RULE : 'must be a string (a URL, data URI or path)';
  }
  return error.message;
}

/**
 * Validates a prediction's `input` against the predictor's declared inputs, with Cog's rules:
 * unknown keys dropped, defaults applied, explicit `null` rejected, one 422 entry per broken
 * field (at most `MAX_VALIDATION_ISSUES`), Path/File strings only as URLs unless the caller is
 * trusted, nesting at most `MAX_INPUT_DEPTH` deep, integers safe.
 */
export class InputValidator {
  readonly #inputs: readonly CheckedInput[];
  /** The inputs that hold a `Type.Secret()` somewhere (only they are walked to wrap it). */
  readonly #withSecrets: readonly CheckedInput[];
  /** Each input's compiled check, beside it: one WeakMap lookup per input per request saved. */
  readonly #checks: readonly Validator[];

  /** `inputs`: a checked declaration's (declaration.ts), so every schema here is one Cog can express. */
  constructor(inputs: readonly CheckedInput[]) {
    this.#inputs = inputs;
    this.#checks = inputs.map(({ schema }) => validatorFor(schema));
    this.#withSecrets = inputs.filter((input) => input.holdsSecret);
  }

  /** Returns the validated input (Secrets wrapped; Path inputs still strings), or throws. */
  validate(raw: unknown, options: ValidateOptions = {}): Record<string, unknown> {
    if (raw !== undefined && raw !== null && !isRecord(raw)) {
      throw new InputValidationError([{ loc: ['body', 'input'], msg: 'Input should be an object', type: 'value_error' }]);
    }
    const issues: ValidationIssue[] = [];
    const broken = (name: string, at: string, msg: string, type = 'value_error') => {
      issues.push({ loc: ['body', 'input', clip(at === '' ? name : `${name}${at}`)], msg: clip(msg), type });
    };
    const input: Record<string, unknown> = {};
    for (let index = 0; index < this.#inputs.length; index++) {
      const { name, schema, optional } = this.#inputs[index]!;
      if (issues.length >= MAX_VALIDATION_ISSUES) break;
      let value = raw?.[name];
      // Defaults are the author's: checked against the schema, but trusted (local paths allowed).
      const fromDefault = value === undefined;
      if (value === undefined) {
        if (!('default' in schema) || schema.default === undefined) {
          if (!optional) broken(name, '', 'Field required', 'value_error.missing');
          continue;
        }
        // An optional's `default: null` (Cog's `Optional[T] = Input(default=None)`) means absent.
        if (schema.default === null && optional) continue;
        value = structuredClone(toWire(schema.default));
      } else if (value === null) {
        broken(name, '', optional ? 'must not be null (omit an optional input instead)' : 'must not be null');
        continue;
      } else if (nestsDeeperThan(value, MAX_INPUT_DEPTH)) {
        broken(name, '', `must not nest lists or objects more than ${MAX_INPUT_DEPTH} levels deep`);
        continue;
      }
      const local = options.allowLocalPaths || fromDefault ? undefined : localFileAt(schema as unknown as JsonObject, value);
      if (local !== undefined) {
        broken(name, local, REMOTE_FILE_RULE);
        continue;
      }
      const wire = toWire(value);
      const checked = options.coerce && !fromDefault ? coerce(wire, schema as unknown as JsonObject) : wire;
      if (!this.#checks[index]!.Check(checked)) {
        const error = firstError(schema, checked);
        if (error === undefined) broken(name, '', 'is invalid');
        else broken(name, error.instancePath, describe(error, schema as unknown as JsonObject, options));
        continue;
      }
      const unsafe = unsafeIntegerAt(schema, checked);
      if (unsafe !== undefined) {
        broken(name, unsafe, 'must be a safe integer (at most 2^53 - 1 in size: larger ones lose their digits in JSON)');
        continue;
      }
      input[name] = checked;
    }
    if (issues.length > 0) throw new InputValidationError(issues);
    return this.#wrap(input);
  }

  #wrap(input: Record<string, unknown>): Record<string, unknown> {
    for (const { name, schema } of this.#withSecrets) {
      if (input[name] !== undefined) input[name] = withSecrets(schema, input[name]);
    }
    return input;
  }
}

/** `Type.Secret()` strings as `Secret`s, wherever they nest (lists, object fields, objects in lists). */
function withSecrets(schema: unknown, value: unknown): unknown {
  if (!isRecord(schema)) return value;
  if (cogKind(schema) === 'secret') return typeof value === 'string' ? new Secret(value) : value;
  if (Array.isArray(value) && isRecord(schema.items)) return value.map((item) => withSecrets(schema.items, item));
  if (isRecord(value) && isRecord(schema.properties)) {
    const properties = schema.properties;
    return Object.fromEntries(Object.entries(value).map(([key, field]) => [key, withSecrets(properties[key], field)]));
  }
  return value;
}
