import type { TSchema } from 'typebox';
import { PredictorLoadError } from './errors.js';
import { COG_CHOICES } from './input.js';
import type { InputsDeclaration } from './predictor.js';
import { cogKind } from './types.js';
import { COG_API_VERSION } from './version.js';

type JsonObject = Record<string, unknown>;

/** What the schema describes: the predictor, and the trainer when cog.yaml names one. */
export interface SchemaSources {
  predict?: { inputs: InputsDeclaration; output: TSchema | undefined };
  train?: { inputs: InputsDeclaration; output: TSchema | undefined };
}

/** `no_default` → `No Default`, as Cog titles inputs. */
export function title(name: string): string {
  return name
    .split('_')
    .filter((word) => word.length > 0)
    .map((word) => word[0]!.toUpperCase() + word.slice(1))
    .join(' ');
}

const TYPE_KEYWORDS = [
  'type', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf',
  'minLength', 'maxLength', 'pattern', 'format', 'minItems', 'maxItems', 'uniqueItems',
  'description', 'default', 'deprecated',
] as const;

/** Component names the document itself uses: a choice input named so would overwrite them. */
const RESERVED_COMPONENTS = new Set([
  'Input', 'Output', 'PredictionRequest', 'PredictionResponse', 'TrainingInput', 'TrainingOutput',
  'TrainingRequest', 'TrainingResponse', 'Status', 'WebhookEvent', 'HTTPValidationError', 'ValidationError',
]);

const SECRET_MASK = '**********';

function raw(schema: TSchema): JsonObject {
  return schema as unknown as JsonObject;
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
  return typeof schema === 'object' && schema !== null && (schema as JsonObject).type === 'null';
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

class SchemaWriter {
  readonly components: Record<string, JsonObject> = {};

  /** One value schema (no title, no x-order), in OpenAPI 3.0 form. */
  value(schema: TSchema, place: Place): JsonObject {
    const { where } = place;
    const source = raw(schema);
    const kind = cogKind(schema);
    const out: JsonObject = {};
    const copy = (...keys: readonly string[]) => {
      for (const key of keys) if (source[key] !== undefined) out[key] = source[key];
    };
    if (kind === 'path' || kind === 'file') {
      if (place.inUnion) throw new PredictorLoadError(`${where}: unions may hold only JSON types (string, number, integer, boolean, object, array), not files or secrets`);
      copy(...TYPE_KEYWORDS);
      return { ...out, type: 'string', format: 'uri' };
    }
    if (kind === 'secret') {
      if (place.inUnion) throw new PredictorLoadError(`${where}: unions may hold only JSON types (string, number, integer, boolean, object, array), not files or secrets`);
      copy('description', 'deprecated');
      // The schema is public: a secret's default is shown masked, as Cog's SecretStr was.
      if (source.default !== undefined) out.default = SECRET_MASK;
      return { ...out, type: 'string', format: 'password', writeOnly: true, 'x-cog-secret': true };
    }
    if (kind === 'iterator' || kind === 'concatenate-iterator') {
      throw new PredictorLoadError(`${where}: Type.Iterator and Type.ConcatenateIterator are only valid as a predictor's whole output`);
    }
    if (source['~kind'] === 'Union' || Array.isArray(source.anyOf)) {
      const members = source.anyOf as TSchema[];
      const nonNull = members.filter((member) => !isNullSchema(member));
      if (nonNull.length < members.length) {
        if (place.input) {
          throw new PredictorLoadError(`${where}: a union with null cannot be an input; use Type.Optional(...) for an optional input`);
        }
        if (nonNull.length === 1) {
          // Cog's OpenAPI 3.0 form of `T | None`: T with `nullable: true`.
          return { ...this.value(nonNull[0]!, place), nullable: true };
        }
      }
      const schemas = nonNull.map((member, i) => this.value(member, { ...place, where: `${where} (member ${i})`, inUnion: true }));
      copy('description', 'default', 'deprecated');
      if (nonNull.length < members.length) out.nullable = true;
      return { ...out, anyOf: schemas };
    }
    if ('const' in source) {
      return { type: typeof source.const === 'string' ? 'string' : Number.isInteger(source.const) ? 'integer' : 'number', enum: [source.const] };
    }
    switch (source.type) {
      case 'string':
      case 'integer':
      case 'number':
      case 'boolean':
        copy(...TYPE_KEYWORDS);
        if (Array.isArray(source.enum)) out.enum = source.enum;
        return out;
      case 'array': {
        if (place.input && place.inList) {
          throw new PredictorLoadError(`${where}: nested lists are not supported as inputs (Cog allows list[T] of a plain type)`);
        }
        const items = source.items as TSchema | undefined;
        if (!items || Array.isArray(items)) throw new PredictorLoadError(`${where}: lists need one item type (tuples are not supported)`);
        if (raw(items)['~optional'] === true) throw new PredictorLoadError(`${where}: list items cannot be optional`);
        copy('description', 'default', 'deprecated', 'minItems', 'maxItems', 'uniqueItems');
        return { ...out, type: 'array', items: this.value(items, { ...place, where: `${where} items`, inList: true }) };
      }
      case 'object':
      case undefined: {
        if (source.type === undefined && Object.keys(source).some((key) => !['description', 'default', 'deprecated', 'title'].includes(key))) {
          throw new PredictorLoadError(`${where}: this type cannot be expressed in Cog's schema`);
        }
        copy('description', 'default', 'deprecated');
        const patterns = source.patternProperties as Record<string, TSchema> | undefined;
        const values = patterns ? Object.values(patterns) : [];
        // An output `dict[str, V]` (TypeBox's Record) keeps its value type, as Cog's static schema does.
        if (!place.input && values.length === 1) {
          return { ...out, type: 'object', additionalProperties: this.value(values[0]!, { ...place, where: `${where} values`, inList: false }) };
        }
        return { ...out, type: 'object' };
      }
      default:
        throw new PredictorLoadError(`${where}: type '${String(source.type)}' cannot be expressed in Cog's schema`);
    }
  }

  /** The `Input` (or `TrainingInput`) component, with enum components for choices. */
  inputs(inputs: InputsDeclaration, componentTitle: string, kind: string): JsonObject {
    const properties: JsonObject = {};
    const required: string[] = [];
    Object.entries(inputs).forEach(([name, schema], order) => {
      const where = `${kind} input '${name}'`;
      const source = raw(schema);
      const optional = source['~optional'] === true;
      const choices = source[COG_CHOICES] === true ? (source.enum as unknown[]) : literalUnion(source);
      const accept = source['x-cog-accept'];
      if (accept !== undefined && !isFileKind(schema) && !isFileKind(source.items)) {
        throw new PredictorLoadError(`${where}: 'accept' applies only to Type.Path() and Type.File() inputs`);
      }
      let property: JsonObject;
      if (choices !== undefined) {
        if (source[COG_CHOICES] === true && source.type !== 'string' && source.type !== 'integer') {
          throw new PredictorLoadError(`${where}: 'choices' applies only to Type.String() and Type.Integer() inputs`);
        }
        if (RESERVED_COMPONENTS.has(name)) {
          throw new PredictorLoadError(`${where}: an input with choices gets a schema component named after it, and '${name}' is taken by Cog's own schema; rename the input`);
        }
        const component: JsonObject = { title: name, description: 'An enumeration.', enum: choices, type: enumType(choices, where) };
        if (this.components[name] !== undefined && JSON.stringify(this.components[name]) !== JSON.stringify(component)) {
          throw new PredictorLoadError(`${where}: an enumeration named '${name}' already exists with other values`);
        }
        this.components[name] = component;
        property = { allOf: [{ $ref: `#/components/schemas/${name}` }] };
        for (const key of ['description', 'default', 'deprecated']) if (source[key] !== undefined) property[key] = source[key];
      } else {
        property = { title: title(name), ...this.value(schema, { where, input: true, inList: false, inUnion: false }) };
      }
      if (accept !== undefined) property['x-cog-accept'] = accept;
      property['x-order'] = order;
      if (optional) property.nullable = true;
      if (!optional && source.default === undefined) required.push(name);
      properties[name] = sortKeys(property);
    });
    const component: JsonObject = { title: componentTitle, type: 'object', properties };
    if (required.length > 0) component.required = required;
    return component;
  }

  /** The `Output` (or `TrainingOutput`) component. */
  output(output: TSchema | undefined, componentTitle: string, kind: string): JsonObject {
    const where = `${kind} output`;
    const place: Place = { where, input: false, inList: false, inUnion: false };
    if (output === undefined) return { title: componentTitle };
    const source = raw(output);
    const outputKind = cogKind(output);
    if (outputKind === 'iterator' || outputKind === 'concatenate-iterator') {
      const schema: JsonObject = {
        title: componentTitle,
        type: 'array',
        items: this.value(source.items as TSchema, { ...place, where: `${where} items` }),
        'x-cog-array-type': 'iterator',
      };
      if (outputKind === 'concatenate-iterator') schema['x-cog-array-display'] = 'concatenate';
      return schema;
    }
    if (source['~optional'] === true || (Array.isArray(source.anyOf) && source.anyOf.some(isNullSchema))) {
      throw new PredictorLoadError(`${where}: an optional output is not supported`);
    }
    if (source.type === 'object' && source.properties !== undefined) {
      const properties: JsonObject = {};
      const required: string[] = [];
      for (const [name, field] of Object.entries(source.properties as Record<string, TSchema>)) {
        if (raw(field).type === 'object' && raw(field).properties !== undefined) {
          throw new PredictorLoadError(`${where}: field '${name}' is an object; nested objects are not supported`);
        }
        const property: JsonObject = { title: title(name), ...this.value(field, { ...place, where: `${where} field '${name}'` }) };
        if (raw(field)['~optional'] === true) property.nullable = true;
        else required.push(name);
        properties[name] = sortKeys(property);
      }
      const schema: JsonObject = { title: componentTitle, type: 'object', properties };
      if (required.length > 0) schema.required = required;
      return schema;
    }
    return sortKeys({ ...this.value(output, place), title: componentTitle });
  }
}

function sortKeys(object: JsonObject): JsonObject {
  return Object.fromEntries(Object.entries(object).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function jsonResponse(description: string, schema: JsonObject): JsonObject {
  return { description, content: { 'application/json': { schema } } };
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

function requestComponent(name: string, input: string): JsonObject {
  return {
    title: name,
    type: 'object',
    properties: {
      id: { title: 'Id', type: 'string' },
      input: ref(input),
      webhook: { title: 'Webhook', type: 'string', format: 'uri', minLength: 1, maxLength: 65536 },
      webhook_events_filter: {
        type: 'array',
        items: ref('WebhookEvent'),
        default: ['start', 'output', 'logs', 'completed'],
        uniqueItems: true,
      },
      context: { title: 'Context', type: 'object', additionalProperties: { type: 'string' } },
      created_at: { title: 'Created At', type: 'string', format: 'date-time' },
      output_file_prefix: { title: 'Output File Prefix', type: 'string' },
    },
  };
}

function responseComponent(name: string, input: string, output: string): JsonObject {
  return {
    title: name,
    type: 'object',
    properties: {
      input: ref(input),
      output: ref(output),
      id: { title: 'Id', type: 'string' },
      version: { title: 'Version', type: 'string' },
      created_at: { title: 'Created At', type: 'string', format: 'date-time' },
      started_at: { title: 'Started At', type: 'string', format: 'date-time' },
      completed_at: { title: 'Completed At', type: 'string', format: 'date-time' },
      status: ref('Status'),
      error: { title: 'Error', type: 'string' },
      logs: { title: 'Logs', type: 'string', default: '' },
      metrics: { title: 'Metrics', type: 'object' },
    },
  };
}

function runOperation(kind: 'predict' | 'train', streaming: boolean): JsonObject {
  const names = kind === 'predict'
    ? { summary: 'Predict', description: 'Run a single prediction on the model', operationId: 'predict_predictions_post', request: 'PredictionRequest', response: 'PredictionResponse' }
    : { summary: 'Train', description: 'Run a single training on the model', operationId: 'train_trainings_post', request: 'TrainingRequest', response: 'TrainingResponse' };
  const operation: JsonObject = {
    summary: names.summary,
    description: names.description,
    operationId: names.operationId,
    requestBody: { content: { 'application/json': { schema: ref(names.request) } } },
    responses: {
      '200': jsonResponse('Successful Response', ref(names.response)),
      '422': jsonResponse('Validation Error', ref('HTTPValidationError')),
    },
  };
  if (streaming) operation['x-cog-streaming'] = true;
  return { post: operation };
}

function cancelOperation(kind: 'predict' | 'train'): JsonObject {
  const [resource, param] = kind === 'predict' ? ['predictions', 'prediction_id'] : ['trainings', 'training_id'];
  return {
    post: {
      summary: 'Cancel',
      operationId: `cancel_${resource}__${param}__cancel_post`,
      parameters: [{ required: true, schema: { title: title(param), type: 'string' }, name: param, in: 'path' }],
      responses: {
        '200': jsonResponse('Successful Response', {}),
        '422': jsonResponse('Validation Error', ref('HTTPValidationError')),
      },
    },
  };
}

/** The OpenAPI 3.0.2 document Cog serves at `/openapi.json`, for these predictor/trainer declarations. */
export function openApiSchema(sources: SchemaSources): JsonObject {
  const writer = new SchemaWriter();
  const schemas: Record<string, JsonObject> = {};
  const paths: JsonObject = {
    '/': { get: { summary: 'Root', operationId: 'root__get', responses: { '200': jsonResponse('Successful Response', {}) } } },
    '/health-check': {
      get: { summary: 'Healthcheck', operationId: 'healthcheck_health_check_get', responses: { '200': jsonResponse('Successful Response', {}) } },
    },
  };
  if (sources.predict) {
    schemas.Input = writer.inputs(sources.predict.inputs, 'Input', 'predictor');
    schemas.Output = writer.output(sources.predict.output, 'Output', 'predictor');
    schemas.PredictionRequest = requestComponent('PredictionRequest', 'Input');
    schemas.PredictionResponse = responseComponent('PredictionResponse', 'Input', 'Output');
    paths['/predictions'] = runOperation('predict', true);
    paths['/predictions/{prediction_id}/cancel'] = cancelOperation('predict');
  }
  if (sources.train) {
    schemas.TrainingInput = writer.inputs(sources.train.inputs, 'TrainingInput', 'trainer');
    schemas.TrainingOutput = writer.output(sources.train.output, 'TrainingOutput', 'trainer');
    schemas.TrainingRequest = requestComponent('TrainingRequest', 'TrainingInput');
    schemas.TrainingResponse = responseComponent('TrainingResponse', 'TrainingInput', 'TrainingOutput');
    paths['/trainings'] = runOperation('train', false);
    paths['/trainings/{training_id}/cancel'] = cancelOperation('train');
  }
  Object.assign(schemas, writer.components, {
    Status: {
      title: 'Status',
      description: 'An enumeration.',
      enum: ['starting', 'processing', 'succeeded', 'canceled', 'failed'],
      type: 'string',
    },
    WebhookEvent: {
      title: 'WebhookEvent',
      description: 'An enumeration.',
      enum: ['start', 'output', 'logs', 'completed'],
      type: 'string',
    },
    HTTPValidationError: {
      title: 'HTTPValidationError',
      type: 'object',
      properties: { detail: { title: 'Detail', type: 'array', items: ref('ValidationError') } },
    },
    ValidationError: {
      title: 'ValidationError',
      required: ['loc', 'msg', 'type'],
      type: 'object',
      properties: {
        loc: { title: 'Location', type: 'array', items: { anyOf: [{ type: 'string' }, { type: 'integer' }] } },
        msg: { title: 'Message', type: 'string' },
        type: { title: 'Error Type', type: 'string' },
      },
    },
  });
  return { openapi: '3.0.2', info: { title: 'Cog', version: COG_API_VERSION }, paths, components: { schemas } };
}
