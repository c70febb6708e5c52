// The OpenAPI 3.0.2 document Cog serves at `/openapi.json`, written from a checked declaration
// (declaration.ts): formatting only, nothing here refuses a schema. Built once per declaration.
import {
  checkDeclaration,
  type CheckedDeclaration,
  type CheckedInput,
  type CheckedOutput,
  type CheckedValue,
  type SchemaSources,
} from './declaration.js';
import { COG_API_VERSION } from '../version.js';

export type { SchemaSources } from './declaration.js';

type JsonObject = Record<string, unknown>;

/** `no_default` → `No Default`, as Cog titles inputs. */
export function title(name: string): string {
  return name
    .split('_')
    .filter((word) => word.length > 0)
    .map((word) => word[0]!.toUpperCase() + word.slice(1))
    .join(' ');
}

const TYPE_KEYWORDS = [
  'type',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'minLength',
  'maxLength',
  'pattern',
  'format',
  'minItems',
  'maxItems',
  'uniqueItems',
  'description',
  'default',
  'deprecated',
] as const;

const SECRET_MASK = '**********';

/** `keys` of `source` that are set, in this order. */
function pick(source: JsonObject, keys: readonly string[]): JsonObject {
  const out: JsonObject = {};
  for (const key of keys) if (source[key] !== undefined) out[key] = source[key];
  return out;
}

/** One value schema (no title, no x-order), in OpenAPI 3.0 form. */
function writeValue(value: CheckedValue): JsonObject {
  switch (value.form) {
    case 'file':
      return { ...pick(value.schema, TYPE_KEYWORDS), type: 'string', format: 'uri' };
    case 'secret': {
      const out = pick(value.schema, ['description', 'deprecated']);
      // The schema is public: a secret's default is shown masked, as Cog's SecretStr was.
      if (value.schema.default !== undefined) out.default = SECRET_MASK;
      return { ...out, type: 'string', format: 'password', writeOnly: true, 'x-cog-secret': true };
    }
    case 'nullable':
      // Cog's OpenAPI 3.0 form of `T | None`: T with `nullable: true`.
      return { ...writeValue(value.value), nullable: true };
    case 'union': {
      const out = pick(value.schema, ['description', 'default', 'deprecated']);
      if (value.nullable) out.nullable = true;
      return { ...out, anyOf: value.members.map(writeValue) };
    }
    case 'const':
      return {
        type: typeof value.value === 'string' ? 'string' : Number.isInteger(value.value) ? 'integer' : 'number',
        enum: [value.value],
      };
    case 'scalar': {
      const out = pick(value.schema, TYPE_KEYWORDS);
      if (Array.isArray(value.schema.enum)) out.enum = value.schema.enum;
      return out;
    }
    case 'list':
      return {
        ...pick(value.schema, ['description', 'default', 'deprecated', 'minItems', 'maxItems', 'uniqueItems']),
        type: 'array',
        items: writeValue(value.items),
      };
    case 'object': {
      const out = pick(value.schema, ['description', 'default', 'deprecated']);
      if (value.values !== undefined) return { ...out, type: 'object', additionalProperties: writeValue(value.values) };
      return { ...out, type: 'object' };
    }
  }
}

/** The `Input` (or `TrainingInput`) component; choice inputs' enumerations go into `enumerations`. */
function writeInputs(inputs: CheckedInput[], componentTitle: string, enumerations: Record<string, JsonObject>): JsonObject {
  const properties: JsonObject = {};
  const required: string[] = [];
  inputs.forEach((input, order) => {
    const { name, choices } = input;
    const source = input.schema as unknown as JsonObject;
    let property: JsonObject;
    if (choices !== undefined) {
      enumerations[name] = { title: name, description: 'An enumeration.', enum: choices.values, type: choices.type };
      property = { allOf: [{ $ref: `#/components/schemas/${name}` }], ...pick(source, ['description', 'default', 'deprecated']) };
    } else {
      property = { title: title(name), ...writeValue(input.value!) };
    }
    if (source['x-cog-accept'] !== undefined) property['x-cog-accept'] = source['x-cog-accept'];
    property['x-order'] = order;
    if (input.optional) property.nullable = true;
    if (input.required) required.push(name);
    properties[name] = sortKeys(property);
  });
  const component: JsonObject = { title: componentTitle, type: 'object', properties };
  if (required.length > 0) component.required = required;
  return component;
}

/** The `Output` (or `TrainingOutput`) component. */
function writeOutput(output: CheckedOutput, componentTitle: string): JsonObject {
  switch (output.form) {
    case 'none':
      return { title: componentTitle };
    case 'iterator': {
      const schema: JsonObject = { title: componentTitle, type: 'array', items: writeValue(output.items), 'x-cog-array-type': 'iterator' };
      if (output.concatenate) schema['x-cog-array-display'] = 'concatenate';
      return schema;
    }
    case 'object': {
      const properties: JsonObject = {};
      const required: string[] = [];
      for (const field of output.fields) {
        const property: JsonObject = { title: title(field.name), ...writeValue(field.value) };
        if (field.optional) property.nullable = true;
        else required.push(field.name);
        properties[field.name] = sortKeys(property);
      }
      const schema: JsonObject = { title: componentTitle, type: 'object', properties };
      if (required.length > 0) schema.required = required;
      return schema;
    }
    case 'value':
      return sortKeys({ ...writeValue(output.value), title: componentTitle });
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
  const names =
    kind === 'predict'
      ? {
          summary: 'Predict',
          description: 'Run a single prediction on the model',
          operationId: 'predict_predictions_post',
          request: 'PredictionRequest',
          response: 'PredictionResponse',
        }
      : {
          summary: 'Train',
          description: 'Run a single training on the model',
          operationId: 'train_trainings_post',
          request: 'TrainingRequest',
          response: 'TrainingResponse',
        };
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

/** The id in the path (`prediction_id`, `training_id`), as Cog's cancel declares it. */
function idParameter(param: string): JsonObject {
  return { required: true, schema: { title: title(param), type: 'string' }, name: param, in: 'path' };
}

/**
 * `GET /predictions/{prediction_id}` (cog-node's polling; Cog has none), named in FastAPI's style
 * as Cog's other operations are.
 */
function pollOperation(kind: 'predict' | 'train'): JsonObject {
  const [resource, param, noun, response] =
    kind === 'predict'
      ? ['predictions', 'prediction_id', 'prediction', 'PredictionResponse']
      : ['trainings', 'training_id', 'training', 'TrainingResponse'];
  return {
    get: {
      summary: `Get ${title(noun)}`,
      description: `Get a ${noun}'s current state: waiting, running, or finished and still retained`,
      operationId: `get_${noun}_${resource}__${param}__get`,
      parameters: [idParameter(param)],
      responses: {
        '200': jsonResponse('Successful Response', ref(response)),
        '404': jsonResponse('Not Found', {}),
        '422': jsonResponse('Validation Error', ref('HTTPValidationError')),
      },
    },
  };
}

function cancelOperation(kind: 'predict' | 'train'): JsonObject {
  const [resource, param] = kind === 'predict' ? ['predictions', 'prediction_id'] : ['trainings', 'training_id'];
  return {
    post: {
      summary: 'Cancel',
      operationId: `cancel_${resource}__${param}__cancel_post`,
      parameters: [idParameter(param)],
      responses: {
        '200': jsonResponse('Successful Response', {}),
        '422': jsonResponse('Validation Error', ref('HTTPValidationError')),
      },
    },
  };
}

const documents = new WeakMap<CheckedDeclaration, JsonObject>();

/**
 * The document for a checked declaration, built on first use and then served as is (callers
 * share it: do not change it).
 */
export function openApiDocument(declaration: CheckedDeclaration): JsonObject {
  let document = documents.get(declaration);
  if (document === undefined) {
    document = writeDocument(declaration);
    documents.set(declaration, document);
  }
  return document;
}

/** The OpenAPI 3.0.2 document Cog serves at `/openapi.json`, for these predictor/trainer declarations. */
export function openApiSchema(sources: SchemaSources): JsonObject {
  return writeDocument(checkDeclaration(sources));
}

function writeDocument(sources: CheckedDeclaration): JsonObject {
  const enumerations: Record<string, JsonObject> = {};
  const schemas: Record<string, JsonObject> = {};
  const paths: JsonObject = {
    '/': { get: { summary: 'Root', operationId: 'root__get', responses: { '200': jsonResponse('Successful Response', {}) } } },
    '/health-check': {
      get: {
        summary: 'Healthcheck',
        operationId: 'healthcheck_health_check_get',
        responses: { '200': jsonResponse('Successful Response', {}) },
      },
    },
  };
  // The predictor's and the trainer's components and paths: the same shape under Cog's two sets of names.
  const sides = [
    { kind: 'predict', prefix: '', noun: 'Prediction', path: '/predictions', id: 'prediction_id', streaming: true },
    { kind: 'train', prefix: 'Training', noun: 'Training', path: '/trainings', id: 'training_id', streaming: false },
  ] as const;
  for (const { kind, prefix, noun, path, id, streaming } of sides) {
    const side = sources[kind];
    if (side === undefined) continue;
    const input = `${prefix}Input`;
    const output = `${prefix}Output`;
    schemas[input] = writeInputs(side.inputs, input, enumerations);
    schemas[output] = writeOutput(side.output, output);
    schemas[`${noun}Request`] = requestComponent(`${noun}Request`, input);
    schemas[`${noun}Response`] = responseComponent(`${noun}Response`, input, output);
    paths[path] = runOperation(kind, streaming);
    paths[`${path}/{${id}}`] = pollOperation(kind);
    paths[`${path}/{${id}}/cancel`] = cancelOperation(kind);
  }
  Object.assign(schemas, enumerations, {
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
