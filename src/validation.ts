import TypeBox, { type TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { InputValidationError, PredictorLoadError, type ValidationIssue } from './errors.js';
import { Path } from './path.js';
import { Secret } from './secret.js';
import type { InputsDeclaration } from './predictor.js';
import { cogKind } from './types.js';

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
}

type JsonObject = Record<string, unknown>;

function isRecord(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isOptional(schema: TSchema): boolean {
  return (schema as unknown as JsonObject)['~optional'] === true;
}

/** Turns values an embedding app may pass (`Path`, `Secret`) into their wire form. */
function toWire(value: unknown): unknown {
  if (value instanceof Path) return value.path;
  if (value instanceof Secret) return value.getSecretValue();
  if (value instanceof URL) return value.href;
  if (Array.isArray(value)) return value.map(toWire);
  return value;
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

/** Every `pattern` in a schema must be a valid regular expression (checked once, at load). */
function checkPatterns(schema: unknown, where: string): void {
  if (!isRecord(schema)) return;
  if (typeof schema.pattern === 'string') {
    try {
      new RegExp(schema.pattern, 'u');
    } catch (error) {
      throw new PredictorLoadError(`${where}: 'regex' ${JSON.stringify(schema.pattern)} is not a valid regular expression: ${(error as Error).message}`);
    }
  }
  if (isRecord(schema.items)) checkPatterns(schema.items, `${where} items`);
  if (Array.isArray(schema.anyOf)) schema.anyOf.forEach((member) => checkPatterns(member, where));
}

function typeNames(members: JsonObject[]): string[] {
  return members.map((member) => (typeof member.type === 'string' ? member.type : 'object'));
}

function describe(error: LocalizedError, schema: JsonObject | undefined): string {
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
    return 'must be a string (a URL, data URI or path)';
  }
  return error.message;
}

/**
 * Validates a prediction's `input` against the predictor's declared inputs, with Cog's rules:
 * unknown keys dropped, defaults applied, explicit `null` rejected, one 422 entry per broken field.
 */
export class InputValidator {
  readonly #inputs: InputsDeclaration;
  readonly #check;

  constructor(inputs: InputsDeclaration) {
    this.#inputs = inputs;
    for (const [name, schema] of Object.entries(inputs)) checkPatterns(schema, `input '${name}'`);
    this.#check = Compile(TypeBox.Object(inputs));
  }

  /** Returns the validated input (Secrets wrapped; Path inputs still strings), or throws. */
  validate(raw: unknown, options: ValidateOptions = {}): Record<string, unknown> {
    if (raw !== undefined && raw !== null && !isRecord(raw)) {
      throw new InputValidationError([
        { loc: ['body', 'input'], msg: 'Input should be an object', type: 'value_error' },
      ]);
    }
    const issues: ValidationIssue[] = [];
    const input: Record<string, unknown> = {};
    for (const [name, schema] of Object.entries(this.#inputs)) {
      const value = raw?.[name];
      if (value === null) {
        issues.push({
          loc: ['body', 'input', name],
          msg: isOptional(schema)
            ? 'must not be null (omit an optional input instead)'
            : 'must not be null',
          type: 'value_error',
        });
      } else if (value !== undefined) {
        const wire = toWire(value);
        input[name] = options.coerce ? coerce(wire, schema as unknown as JsonObject) : wire;
      } else if ('default' in schema && schema.default !== undefined) {
        input[name] = structuredClone(toWire(schema.default));
      }
    }
    if (issues.length === 0 && this.#check.Check(input)) return this.#wrap(input);
    const seen = new Set(issues.map((issue) => String(issue.loc[2])));
    for (const error of this.#check.Errors(input) as LocalizedError[]) {
      if (error.keyword === 'required') {
        for (const name of (error.params.requiredProperties as string[] | undefined) ?? []) {
          if (seen.has(name)) continue;
          seen.add(name);
          issues.push({ loc: ['body', 'input', name], msg: 'Field required', type: 'value_error.missing' });
        }
        continue;
      }
      const [, name = '__root__', ...rest] = error.instancePath.split('/');
      if (seen.has(name)) continue;
      // For a choice or union, the member errors say less than the summary that follows them.
      if (error.keyword === 'const' || (error.keyword !== 'anyOf' && /\/anyOf\/\d+/.test(error.schemaPath))) continue;
      seen.add(name);
      issues.push({
        loc: ['body', 'input', rest.length > 0 ? [name, ...rest].join('/') : name],
        msg: describe(error, this.#inputs[name] as unknown as JsonObject | undefined),
        type: 'value_error',
      });
    }
    if (issues.length === 0) {
      issues.push({ loc: ['body', 'input'], msg: 'Input is invalid', type: 'value_error' });
    }
    throw new InputValidationError(issues);
  }

  #wrap(input: Record<string, unknown>): Record<string, unknown> {
    for (const [name, schema] of Object.entries(this.#inputs)) {
      if (cogKind(schema) === 'secret' && typeof input[name] === 'string') {
        input[name] = new Secret(input[name] as string);
      }
    }
    return input;
  }
}
