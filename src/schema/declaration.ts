// The predictor's (and trainer's) declaration, checked once at load into a checked form: each
// input with its Cog kind, choices and value shape, and the output's shape. The validator and the
// OpenAPI writer read this form; every "Cog cannot express this" load error is raised here.
import type { TSchema } from 'typebox';
import { PredictorLoadError } from '../errors.js';
import { COG_CHOICES } from '../predictor/input.js';
import type { InputsDeclaration } from '../predictor/base-predictor.js';
import { cogKind, type CogKind } from '../predictor/type.js';

type JsonObject = Record<string, unknown>;

/** What is declared: the predictor, and the trainer when cog.yaml names one. */
export interface SchemaSources {
  predict?: { inputs: InputsDeclaration; output: TSchema | undefined };
  train?: { inputs: InputsDeclaration; output: TSchema | undefined };
}

/** One value schema as Cog can express it (an input's type, a list's items, an output). */
export type CheckedValue =
  | { form: 'file'; schema: JsonObject }
  | { form: 'secret'; schema: JsonObject }
  /** An output's `T | null`: T, nullable. */
  | { form: 'nullable'; value: CheckedValue }
  | { form: 'union'; schema: JsonObject; members: CheckedValue[]; nullable: boolean }
  | { form: 'const'; value: unknown }
  | { form: 'scalar'; schema: JsonObject }
  | { form: 'list'; schema: JsonObject; items: CheckedValue }
  /** `values`: an output `dict[str, V]`'s value type. */
  | { form: 'object'; schema: JsonObject; values?: CheckedValue };

/** One declared input, in declaration order. */
export interface CheckedInput {
  name: string;
  schema: TSchema;
  kind: CogKind | undefined;
  optional: boolean;
  /** Neither optional nor defaulted: a request must give it. */
  required: boolean;
  /** `choices` (or a union of literals): an enumeration named after the input. */
  choices?: { values: unknown[]; type: 'string' | 'integer' };
  /** The value's shape; absent for choices, which are an enumeration instead. */
  value?: CheckedValue;
  /** A `Type.Secret()` somewhere inside (only these inputs are walked to wrap it). */
  holdsSecret: boolean;
}

export type CheckedOutput =
  | { form: 'none' }
  | { form: 'iterator'; items: CheckedValue; concatenate: boolean }
  | { form: 'object'; fields: { name: string; value: CheckedValue; optional: boolean }[] }
  | { form: 'value'; value: CheckedValue };

/** One side (predict or train) of a checked declaration. */
export interface CheckedSide {
  inputs: CheckedInput[];
  output: CheckedOutput;
}

export interface CheckedDeclaration {
  predict?: CheckedSide;
  train?: CheckedSide;
}

/** Component names the document itself uses: a choice input named so would overwrite them. */
const RESERVED_COMPONENTS = new Set([
  'Input',
  'Output',
  'PredictionRequest',
  'PredictionResponse',
  'TrainingInput',
  'TrainingOutput',
  'TrainingRequest',
  'TrainingResponse',
  'Status',
  'WebhookEvent',
  'HTTPValidationError',
  'ValidationError',
]);

const UNION_MEMBERS_RULE = 'unions may hold only JSON types (string, number, integer, boolean, object, array), not files or secrets';

function raw(schema: unknown): JsonObject {
  return schema as JsonObject;
}

/** A JSON object (not null, not a list): what a schema node or an object value is. */
export function isRecord(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function literalUnion(schema: JsonObject): unknown[] | undefined {
  const members = schema.anyOf;
  if (!Array.isArray(members) || members.length === 0) return undefined;
  if (!members.every((member: JsonObject) => 'const' in member)) return undefined;
  const values = members.map((member: JsonObject) => member.const);
  return values.every((value) => typeof value === 'string' || typeof value === 'number') ? values : undefined;
}

function enumType(values: unknown[], where: string): 'string' | 'integer' {
  if (values.every((value) => typeof value === 'string')) return 'string';
  if (values.every((value) => Number.isInteger(value))) return 'integer';
  throw new PredictorLoadError(`${where}: choices must be all strings or all integers`);
}

function isFileKind(schema: unknown): boolean {
  const kind = cogKind(schema);
  return kind === 'path' || kind === 'file';
}

function isNullSchema(schema: unknown): boolean {
  return isRecord(schema) && schema.type === 'null';
}

function holdsSecret(schema: unknown): boolean {
  if (!isRecord(schema)) return false;
  if (cogKind(schema) === 'secret') return true;
  return holdsSecret(schema.items) || (isRecord(schema.properties) && Object.values(schema.properties).some(holdsSecret));
}

/** Every `pattern` in a schema must be a valid regular expression. */
function checkPatterns(schema: unknown, where: string): void {
  if (!isRecord(schema)) return;
  if (typeof schema.pattern === 'string') {
    try {
      new RegExp(schema.pattern, 'u');
    } catch (error) {
      throw new PredictorLoadError(
        `${where}: 'regex' ${JSON.stringify(schema.pattern)} is not a valid regular expression: ${(error as Error).message}`,
      );
    }
  }
  if (isRecord(schema.items)) checkPatterns(schema.items, `${where} items`);
  if (Array.isArray(schema.anyOf)) schema.anyOf.forEach((member) => checkPatterns(member, where));
}

/** Where a value schema sits: what Cog allows differs between inputs and outputs, lists and unions. */
interface Place {
  where: string;
  /** An input (Cog: list[T] of a plain T only) or an output (nested lists allowed). */
  input: boolean;
  inList: boolean;
  /** Unions hold JSON types only: no files, no secrets. */
  inUnion: boolean;
}

/** One value schema, checked against what Cog's schema can express. */
function checkValue(schema: TSchema, place: Place): CheckedValue {
  const { where } = place;
  const source = raw(schema);
  const kind = cogKind(schema);
  if (kind === 'path' || kind === 'file') {
    if (place.inUnion) throw new PredictorLoadError(`${where}: ${UNION_MEMBERS_RULE}`);
    return { form: 'file', schema: source };
  }
  if (kind === 'secret') {
    if (place.inUnion) throw new PredictorLoadError(`${where}: ${UNION_MEMBERS_RULE}`);
    return { form: 'secret', schema: source };
  }
  if (kind === 'iterator' || kind === 'concatenate-iterator') {
    throw new PredictorLoadError(`${where}: Type.Iterator and Type.ConcatenateIterator are only valid as a predictor's whole output`);
  }
  if (source['~kind'] === 'Union' || Array.isArray(source.anyOf)) {
    const members = source.anyOf as TSchema[];
    const nonNull = members.filter((member) => !isNullSchema(member));
    const nullable = nonNull.length < members.length;
    if (nullable) {
      if (place.input) {
        throw new PredictorLoadError(`${where}: a union with null cannot be an input; use Type.Optional(...) for an optional input`);
      }
      if (nonNull.length === 1) return { form: 'nullable', value: checkValue(nonNull[0]!, place) };
    }
    const checked = nonNull.map((member, i) => checkValue(member, { ...place, where: `${where} (member ${i})`, inUnion: true }));
    return { form: 'union', schema: source, members: checked, nullable };
  }
  if ('const' in source) return { form: 'const', value: source.const };
  switch (source.type) {
    case 'string':
    case 'integer':
    case 'number':
    case 'boolean':
      return { form: 'scalar', schema: source };
    case 'array': {
      if (place.input && place.inList) {
        throw new PredictorLoadError(`${where}: nested lists are not supported as inputs (Cog allows list[T] of a plain type)`);
      }
      const items = source.items as TSchema | undefined;
      if (!items || Array.isArray(items)) throw new PredictorLoadError(`${where}: lists need one item type (tuples are not supported)`);
      if (raw(items)['~optional'] === true) throw new PredictorLoadError(`${where}: list items cannot be optional`);
      return { form: 'list', schema: source, items: checkValue(items, { ...place, where: `${where} items`, inList: true }) };
    }
    case 'object':
    case undefined: {
      if (
        source.type === undefined &&
        Object.keys(source).some((key) => !['description', 'default', 'deprecated', 'title'].includes(key))
      ) {
        throw new PredictorLoadError(`${where}: this type cannot be expressed in Cog's schema`);
      }
      const patterns = source.patternProperties as Record<string, TSchema> | undefined;
      const values = patterns ? Object.values(patterns) : [];
      // An output `dict[str, V]` (TypeBox's Record) keeps its value type, as Cog's static schema does.
      if (!place.input && values.length === 1) {
        return { form: 'object', schema: source, values: checkValue(values[0]!, { ...place, where: `${where} values`, inList: false }) };
      }
      return { form: 'object', schema: source };
    }
    default:
      throw new PredictorLoadError(`${where}: type '${String(source.type)}' cannot be expressed in Cog's schema`);
  }
}

/** The enumerations choice inputs declare, by name, across both sides (they share one namespace). */
type Enumerations = Map<string, string>;

function claimEnumeration(enumerations: Enumerations, input: CheckedInput, where: string): void {
  const values = JSON.stringify(input.choices);
  if (enumerations.has(input.name) && enumerations.get(input.name) !== values) {
    throw new PredictorLoadError(`${where}: an enumeration named '${input.name}' already exists with other values`);
  }
  enumerations.set(input.name, values);
}

function checkInputList(inputs: InputsDeclaration, kind: string, enumerations: Enumerations): CheckedInput[] {
  return Object.entries(inputs).map(([name, schema]) => {
    const where = `${kind} input '${name}'`;
    const source = raw(schema);
    const optional = source['~optional'] === true;
    const choices = source[COG_CHOICES] === true ? (source.enum as unknown[]) : literalUnion(source);
    const accept = source['x-cog-accept'];
    if (accept !== undefined && !isFileKind(schema) && !isFileKind(source.items)) {
      throw new PredictorLoadError(`${where}: 'accept' applies only to Type.Path() and Type.File() inputs`);
    }
    const checked: CheckedInput = {
      name,
      schema,
      kind: cogKind(schema),
      optional,
      required: !optional && source.default === undefined,
      holdsSecret: holdsSecret(schema),
    };
    if (choices === undefined) {
      checked.value = checkValue(schema, { where, input: true, inList: false, inUnion: false });
      return checked;
    }
    if (source[COG_CHOICES] === true && source.type !== 'string' && source.type !== 'integer') {
      throw new PredictorLoadError(`${where}: 'choices' applies only to Type.String() and Type.Integer() inputs`);
    }
    if (RESERVED_COMPONENTS.has(name)) {
      throw new PredictorLoadError(
        `${where}: an input with choices gets a schema component named after it, and '${name}' is taken by Cog's own schema; rename the input`,
      );
    }
    checked.choices = { values: choices, type: enumType(choices, where) };
    claimEnumeration(enumerations, checked, where);
    return checked;
  });
}

function checkOutput(output: TSchema | undefined, kind: string): CheckedOutput {
  const where = `${kind} output`;
  const place: Place = { where, input: false, inList: false, inUnion: false };
  if (output === undefined) return { form: 'none' };
  const source = raw(output);
  const outputKind = cogKind(output);
  if (outputKind === 'iterator' || outputKind === 'concatenate-iterator') {
    const items = checkValue(source.items as TSchema, { ...place, where: `${where} items` });
    return { form: 'iterator', items, concatenate: outputKind === 'concatenate-iterator' };
  }
  if (source['~optional'] === true || (Array.isArray(source.anyOf) && source.anyOf.some(isNullSchema))) {
    throw new PredictorLoadError(`${where}: an optional output is not supported`);
  }
  if (source.type === 'object' && source.properties !== undefined) {
    const fields = Object.entries(source.properties as Record<string, TSchema>).map(([name, field]) => {
      if (raw(field).type === 'object' && raw(field).properties !== undefined) {
        throw new PredictorLoadError(`${where}: field '${name}' is an object; nested objects are not supported`);
      }
      const value = checkValue(field, { ...place, where: `${where} field '${name}'` });
      return { name, value, optional: raw(field)['~optional'] === true };
    });
    return { form: 'object', fields };
  }
  return { form: 'value', value: checkValue(output, place) };
}

function checkSide(
  side: { inputs: InputsDeclaration; output: TSchema | undefined },
  kind: string,
  enumerations: Enumerations,
): CheckedSide {
  const inputs = checkInputList(side.inputs, kind, enumerations);
  const output = checkOutput(side.output, kind);
  // Regular expressions are checked last, as the validator checked them after the schema was written.
  for (const input of inputs) checkPatterns(input.schema, `input '${input.name}'`);
  return { inputs, output };
}

/**
 * Checks a declaration against what Cog can express, or throws `PredictorLoadError` naming the
 * input (or output) and the rule. Run once, at load.
 */
export function checkDeclaration(sources: SchemaSources): CheckedDeclaration {
  const enumerations: Enumerations = new Map();
  const checked: CheckedDeclaration = {};
  if (sources.predict) checked.predict = checkSide(sources.predict, 'predictor', enumerations);
  if (sources.train) checked.train = checkSide(sources.train, 'trainer', enumerations);
  return checked;
}

/**
 * A server's predictor and trainer, each checked on its own at load, as one declaration: their
 * choice inputs share the document's component names, so these must agree. With one of them,
 * that one's own declaration (and so its document, already built).
 */
export function joinDeclarations(predictor: CheckedDeclaration | undefined, trainer: CheckedDeclaration | undefined): CheckedDeclaration {
  if (trainer === undefined || predictor === undefined) return predictor ?? trainer ?? {};
  const { predict } = predictor;
  const { train } = trainer;
  const joined: CheckedDeclaration = {};
  if (predict !== undefined) joined.predict = predict;
  if (train !== undefined) joined.train = train;
  const enumerations: Enumerations = new Map();
  for (const [kind, side] of [
    ['predictor', predict],
    ['trainer', train],
  ] as const) {
    for (const input of side?.inputs ?? [])
      if (input.choices !== undefined) claimEnumeration(enumerations, input, `${kind} input '${input.name}'`);
  }
  return joined;
}

/** Declared inputs alone, checked (the request-parsing thread gets them as JSON, already checked at load). */
export function checkInputs(inputs: InputsDeclaration): CheckedInput[] {
  return checkSide({ inputs, output: undefined }, 'predictor', new Map()).inputs;
}
