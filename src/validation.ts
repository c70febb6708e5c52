import TypeBox, { type TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { InputValidationError, type ValidationIssue } from './errors.js';
import { Path } from './path.js';
import { Secret } from './secret.js';
import type { InputsDeclaration } from './predictor.js';
import { cogKind } from './types.js';

interface LocalizedError {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message: string;
}

export interface ValidateOptions {
  /** Convert strings to numbers, booleans and lists where the schema asks (the CLI's `-i k=v`). */
  coerce?: boolean;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isOptional(schema: TSchema): boolean {
  return (schema as unknown as Record<string, unknown>)['~optional'] === true;
}

/** Turns values an embedding app may pass (`Path`, `Secret`) into their wire form. */
function toWire(value: unknown): unknown {
  if (value instanceof Path) return value.path;
  if (value instanceof Secret) return value.getSecretValue();
  if (value instanceof URL) return value.href;
  if (Array.isArray(value)) return value.map(toWire);
  return value;
}

function describe(error: LocalizedError, schema: TSchema | undefined): string {
  if (error.keyword === 'enum' && Array.isArray(error.params.allowedValues)) {
    return `must be one of: ${(error.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
  }
  if (error.keyword === 'type' && schema && cogKind(schema) !== undefined) {
    return `must be a string (a URL, data URI or path)`;
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
        input[name] = toWire(value);
      } else if ('default' in schema && schema.default !== undefined) {
        input[name] = structuredClone(schema.default);
      }
    }
    const candidate = options.coerce ? (this.#check.Convert(input) as Record<string, unknown>) : input;
    if (issues.length === 0 && this.#check.Check(candidate)) return this.#wrap(candidate);
    const seen = new Set(issues.map((issue) => String(issue.loc[2])));
    for (const error of this.#check.Errors(candidate) as LocalizedError[]) {
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
      if (error.keyword === 'const' || (error.keyword !== 'anyOf' && /\/anyOf\/\d+$/.test((error as unknown as { schemaPath: string }).schemaPath))) continue;
      seen.add(name);
      issues.push({
        loc: ['body', 'input', rest.length > 0 ? [name, ...rest].join('/') : name],
        msg: describe(error, this.#inputs[name]),
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
