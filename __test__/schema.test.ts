// The OpenAPI document, compared with documents written by hand from Cog's schema rules
// (cog-reference.md §1.3-1.7 and §3.4), never with a snapshot of our own output.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  BasePredictor,
  BaseTrainer,
  Input,
  Path,
  PredictorLoadError,
  Type,
  loadPredictor,
  openApiSchema,
  type Inputs,
} from '../src/index.js';

type Json = Record<string, unknown>;

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const VALIDATION_ERROR_RESPONSE = {
  description: 'Validation Error',
  content: { 'application/json': { schema: ref('HTTPValidationError') } },
};

/** The polling path, cog-node's own (Cog has none), in the style of Cog's cancel operation. */
function pollPath(kind: 'predict' | 'train'): Json {
  const [noun, Noun, resource] = kind === 'predict' ? ['prediction', 'Prediction', 'predictions'] : ['training', 'Training', 'trainings'];
  return {
    get: {
      summary: `Get ${Noun}`,
      description: `Get a ${noun}'s current state: waiting, running, or finished and still retained`,
      operationId: `get_${noun}_${resource}__${noun}_id__get`,
      parameters: [{ required: true, schema: { title: `${Noun} Id`, type: 'string' }, name: `${noun}_id`, in: 'path' }],
      responses: {
        '200': { description: 'Successful Response', content: { 'application/json': { schema: ref(`${Noun}Response`) } } },
        '404': { description: 'Not Found', content: { 'application/json': { schema: {} } } },
        '422': VALIDATION_ERROR_RESPONSE,
      },
    },
  };
}

/**
 * `/predictions` or `/trainings` and its cancel path, as Cog's static generator writes them, with
 * cog-node's polling path between them.
 */
function runPaths(kind: 'predict' | 'train'): Json {
  if (kind === 'predict') {
    return {
      '/predictions': {
        post: {
          summary: 'Predict',
          description: 'Run a single prediction on the model',
          operationId: 'predict_predictions_post',
          requestBody: { content: { 'application/json': { schema: ref('PredictionRequest') } } },
          responses: {
            '200': { description: 'Successful Response', content: { 'application/json': { schema: ref('PredictionResponse') } } },
            '422': VALIDATION_ERROR_RESPONSE,
          },
          // SSE works for every predictor here, so the schema always says so (api-sketch.md).
          'x-cog-streaming': true,
        },
      },
      '/predictions/{prediction_id}': pollPath('predict'),
      '/predictions/{prediction_id}/cancel': {
        post: {
          summary: 'Cancel',
          operationId: 'cancel_predictions__prediction_id__cancel_post',
          parameters: [{ required: true, schema: { title: 'Prediction Id', type: 'string' }, name: 'prediction_id', in: 'path' }],
          responses: {
            '200': { description: 'Successful Response', content: { 'application/json': { schema: {} } } },
            '422': VALIDATION_ERROR_RESPONSE,
          },
        },
      },
    };
  }
  return {
    '/trainings': {
      post: {
        summary: 'Train',
        description: 'Run a single training on the model',
        operationId: 'train_trainings_post',
        requestBody: { content: { 'application/json': { schema: ref('TrainingRequest') } } },
        responses: {
          '200': { description: 'Successful Response', content: { 'application/json': { schema: ref('TrainingResponse') } } },
          '422': VALIDATION_ERROR_RESPONSE,
        },
      },
    },
    '/trainings/{training_id}': pollPath('train'),
    '/trainings/{training_id}/cancel': {
      post: {
        summary: 'Cancel',
        operationId: 'cancel_trainings__training_id__cancel_post',
        parameters: [{ required: true, schema: { title: 'Training Id', type: 'string' }, name: 'training_id', in: 'path' }],
        responses: {
          '200': { description: 'Successful Response', content: { 'application/json': { schema: {} } } },
          '422': VALIDATION_ERROR_RESPONSE,
        },
      },
    },
  };
}

/** The request envelope: coglet's `id` and `input`, plus the legacy server's fields (a superset). */
function requestComponent(title: string, input: string): Json {
  return {
    title,
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

function responseComponent(title: string, input: string, output: string): Json {
  return {
    title,
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

const FIXED_COMPONENTS = {
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
};

interface Part {
  input: Json;
  output: Json;
}

/** The whole document Cog serves for a predictor and/or trainer with these Input/Output components. */
function cogDocument(parts: { predict?: Part; train?: Part; enums?: Record<string, Json> }): Json {
  const schemas: Json = {};
  let paths: Json = {
    '/': {
      get: {
        summary: 'Root',
        operationId: 'root__get',
        responses: { '200': { description: 'Successful Response', content: { 'application/json': { schema: {} } } } },
      },
    },
    '/health-check': {
      get: {
        summary: 'Healthcheck',
        operationId: 'healthcheck_health_check_get',
        responses: { '200': { description: 'Successful Response', content: { 'application/json': { schema: {} } } } },
      },
    },
  };
  if (parts.predict) {
    Object.assign(schemas, {
      Input: parts.predict.input,
      Output: parts.predict.output,
      PredictionRequest: requestComponent('PredictionRequest', 'Input'),
      PredictionResponse: responseComponent('PredictionResponse', 'Input', 'Output'),
    });
    paths = { ...paths, ...runPaths('predict') };
  }
  if (parts.train) {
    Object.assign(schemas, {
      TrainingInput: parts.train.input,
      TrainingOutput: parts.train.output,
      TrainingRequest: requestComponent('TrainingRequest', 'TrainingInput'),
      TrainingResponse: responseComponent('TrainingResponse', 'TrainingInput', 'TrainingOutput'),
    });
    paths = { ...paths, ...runPaths('train') };
  }
  Object.assign(schemas, parts.enums ?? {}, FIXED_COMPONENTS);
  return { openapi: '3.0.2', info: { title: 'Cog', version: '0.22.0' }, paths, components: { schemas } };
}

function enumComponent(name: string, values: (string | number)[]): Json {
  return { title: name, description: 'An enumeration.', enum: values, type: typeof values[0] === 'string' ? 'string' : 'integer' };
}

// ---------------------------------------------------------------------------------------------

class Primitives extends BasePredictor {
  static inputs = {
    prompt: Input(Type.String(), { description: 'What to draw', min_length: 1, max_length: 200, regex: '^[^<>]*$' }),
    no_default: Type.Integer(),
    num_inference_steps: Input(Type.Integer(), { default: 50, ge: 1, le: 500 }),
    guidance_scale: Input(Type.Number(), { description: 'Scale for classifier-free guidance', default: 7.5, ge: 1, le: 20 }),
    fast: Input(Type.Boolean(), { default: false, deprecated: true }),
    extra: Input(Type.Unknown(), { description: 'Anything JSON' }),
  };
  static output = Type.String();
  predict(inputs: Inputs<typeof Primitives>): string {
    return inputs.prompt;
  }
}

class Choices extends BasePredictor {
  static inputs = {
    scheduler: Input(Type.String(), { choices: ['DDIM', 'K_EULER', 'PNDM'], default: 'K_EULER', description: 'Which scheduler' }),
    width: Input(Type.Integer(), { choices: [512, 768, 1024] }),
    mode: Type.Union([Type.Literal('fast'), Type.Literal('best')]),
    flavour: Input(Type.Optional(Type.String()), { choices: ['vanilla', 'mint'] }),
  };
  static output = Type.Integer();
  predict(): number {
    return 1;
  }
}

class Optionals extends BasePredictor {
  static inputs = {
    seed: Type.Optional(Type.Integer()),
    negative_prompt: Input(Type.Optional(Type.String()), { description: 'What to avoid' }),
    strength: Input(Type.Optional(Type.Number()), { default: 0.8, ge: 0, le: 1 }),
    tags: Type.Optional(Type.Array(Type.String())),
    name: Type.String(),
  };
  static output = Type.Array(Type.String());
  predict(): string[] {
    return [];
  }
}

class Files extends BasePredictor {
  static inputs = {
    image: Input(Type.Path(), { description: 'Image to enlarge', accept: 'image/*' }),
    mask: Input(Type.Optional(Type.File()), { accept: '.png,.jpg' }),
    frames: Input(Type.Array(Type.Path()), { description: 'Frames of a video' }),
    weights: Input(Type.Path(), { default: 'https://example.com/weights.bin' }),
  };
  static output = Type.Path();
  predict({ image }: Inputs<typeof Files>): Path {
    return image;
  }
}

class Secrets extends BasePredictor {
  static inputs = {
    api_key: Input(Type.Secret(), { description: 'Your API key' }),
    proxy_token: Type.Optional(Type.Secret()),
    fallback_key: Input(Type.Secret(), { default: 'sk-default-key' }),
  };
  // Cog's custom `Output` object.
  static output = Type.Object({
    image: Type.Path(),
    seed: Type.Integer(),
    nsfw_detected: Type.Optional(Type.Boolean()),
    captions: Type.Array(Type.String()),
    files: Type.Array(Type.Path()),
  });
  predict(): never {
    throw new Error('not run');
  }
}

class Tokens extends BasePredictor {
  static inputs = { prompt: Type.String() };
  static output = Type.ConcatenateIterator(Type.String());
  *predict(): Generator<string> {
    yield 'a';
  }
}

class Frames extends BasePredictor {
  static inputs = {};
  static output = Type.Iterator(Type.Path());
  *predict(): Generator<Path> {}
}

class Trainer extends BaseTrainer {
  static inputs = {
    train_data: Input(Type.Path(), { description: 'A zip of images' }),
    max_train_steps: Input(Type.Integer(), { default: 1000, ge: 1 }),
    optimizer: Input(Type.String(), { choices: ['adam', 'sgd'], default: 'adam' }),
  };
  static output = Type.Object({ weights: Type.Path() });
  train(): { weights: Path } {
    return { weights: new Path('/tmp/weights.bin') };
  }
}

describe('the OpenAPI document, against documents derived by hand from Cog', () => {
  it('primitives: defaults, descriptions, ge/le, min/max_length, regex, deprecated, titles, x-order', async () => {
    const predictor = await loadPredictor(Primitives);
    const expected = JSON.parse(readFileSync(new URL('./fixtures/schema/primitives.json', import.meta.url), 'utf8')) as Json;
    expect(predictor.schema).toStrictEqual(expected);
    // Properties come in declaration order too, as Cog's ordered map writes them.
    const input = (predictor.schema.components as { schemas: { Input: { properties: Json } } }).schemas.Input;
    expect(Object.keys(input.properties)).toEqual(['prompt', 'no_default', 'num_inference_steps', 'guidance_scale', 'fast', 'extra']);
  });

  it('str and int choices, and Literal unions: enum components referenced through allOf', async () => {
    const predictor = await loadPredictor(Choices);
    expect(predictor.schema).toStrictEqual(
      cogDocument({
        predict: {
          input: {
            title: 'Input',
            type: 'object',
            properties: {
              scheduler: { allOf: [ref('scheduler')], default: 'K_EULER', description: 'Which scheduler', 'x-order': 0 },
              width: { allOf: [ref('width')], 'x-order': 1 },
              mode: { allOf: [ref('mode')], 'x-order': 2 },
              flavour: { allOf: [ref('flavour')], nullable: true, 'x-order': 3 },
            },
            required: ['width', 'mode'],
          },
          output: { title: 'Output', type: 'integer' },
        },
        enums: {
          scheduler: enumComponent('scheduler', ['DDIM', 'K_EULER', 'PNDM']),
          width: enumComponent('width', [512, 768, 1024]),
          mode: enumComponent('mode', ['fast', 'best']),
          flavour: enumComponent('flavour', ['vanilla', 'mint']),
        },
      }),
    );
  });

  it('Optional inputs are nullable and never required, with or without a default', async () => {
    const predictor = await loadPredictor(Optionals);
    expect(predictor.schema).toStrictEqual(
      cogDocument({
        predict: {
          input: {
            title: 'Input',
            type: 'object',
            properties: {
              seed: { title: 'Seed', type: 'integer', nullable: true, 'x-order': 0 },
              negative_prompt: { title: 'Negative Prompt', type: 'string', description: 'What to avoid', nullable: true, 'x-order': 1 },
              strength: { title: 'Strength', type: 'number', default: 0.8, minimum: 0, maximum: 1, nullable: true, 'x-order': 2 },
              tags: { title: 'Tags', type: 'array', items: { type: 'string' }, nullable: true, 'x-order': 3 },
              name: { title: 'Name', type: 'string', 'x-order': 4 },
            },
            required: ['name'],
          },
          output: { title: 'Output', type: 'array', items: { type: 'string' } },
        },
      }),
    );
  });

  it('Path, File and list[Path] inputs: format uri, x-cog-accept; a Path output', async () => {
    const predictor = await loadPredictor(Files);
    expect(predictor.schema).toStrictEqual(
      cogDocument({
        predict: {
          input: {
            title: 'Input',
            type: 'object',
            properties: {
              image: {
                title: 'Image',
                type: 'string',
                format: 'uri',
                description: 'Image to enlarge',
                'x-cog-accept': 'image/*',
                'x-order': 0,
              },
              mask: { title: 'Mask', type: 'string', format: 'uri', 'x-cog-accept': '.png,.jpg', nullable: true, 'x-order': 1 },
              frames: {
                title: 'Frames',
                type: 'array',
                items: { type: 'string', format: 'uri' },
                description: 'Frames of a video',
                'x-order': 2,
              },
              weights: { title: 'Weights', type: 'string', format: 'uri', default: 'https://example.com/weights.bin', 'x-order': 3 },
            },
            required: ['image', 'frames'],
          },
          output: { title: 'Output', type: 'string', format: 'uri' },
        },
      }),
    );
  });

  it("Secret inputs (write-only, default masked) and an object output (Cog's Output) with list fields", async () => {
    const predictor = await loadPredictor(Secrets);
    const secret = { type: 'string', format: 'password', writeOnly: true, 'x-cog-secret': true };
    expect(predictor.schema).toStrictEqual(
      cogDocument({
        predict: {
          input: {
            title: 'Input',
            type: 'object',
            properties: {
              api_key: { title: 'Api Key', ...secret, description: 'Your API key', 'x-order': 0 },
              proxy_token: { title: 'Proxy Token', ...secret, nullable: true, 'x-order': 1 },
              fallback_key: { title: 'Fallback Key', ...secret, default: '**********', 'x-order': 2 },
            },
            required: ['api_key'],
          },
          output: {
            title: 'Output',
            type: 'object',
            properties: {
              image: { title: 'Image', type: 'string', format: 'uri' },
              seed: { title: 'Seed', type: 'integer' },
              nsfw_detected: { title: 'Nsfw Detected', type: 'boolean', nullable: true },
              captions: { title: 'Captions', type: 'array', items: { type: 'string' } },
              files: { title: 'Files', type: 'array', items: { type: 'string', format: 'uri' } },
            },
            required: ['image', 'seed', 'captions', 'files'],
          },
        },
      }),
    );
    expect(JSON.stringify(predictor.schema)).not.toContain('sk-default-key');
  });

  it('ConcatenateIterator and Iterator outputs: arrays marked as iterators', async () => {
    const tokens = await loadPredictor(Tokens);
    expect(tokens.schema).toStrictEqual(
      cogDocument({
        predict: {
          input: {
            title: 'Input',
            type: 'object',
            properties: { prompt: { title: 'Prompt', type: 'string', 'x-order': 0 } },
            required: ['prompt'],
          },
          output: {
            title: 'Output',
            type: 'array',
            items: { type: 'string' },
            'x-cog-array-type': 'iterator',
            'x-cog-array-display': 'concatenate',
          },
        },
      }),
    );
    const frames = await loadPredictor(Frames);
    expect(frames.schema).toStrictEqual(
      cogDocument({
        predict: {
          input: { title: 'Input', type: 'object', properties: {} },
          output: { title: 'Output', type: 'array', items: { type: 'string', format: 'uri' }, 'x-cog-array-type': 'iterator' },
        },
      }),
    );
  });

  const trainingInput = {
    title: 'TrainingInput',
    type: 'object',
    properties: {
      train_data: { title: 'Train Data', type: 'string', format: 'uri', description: 'A zip of images', 'x-order': 0 },
      max_train_steps: { title: 'Max Train Steps', type: 'integer', default: 1000, minimum: 1, 'x-order': 1 },
      optimizer: { allOf: [ref('optimizer')], default: 'adam', 'x-order': 2 },
    },
    required: ['train_data'],
  };
  const trainingOutput = {
    title: 'TrainingOutput',
    type: 'object',
    properties: { weights: { title: 'Weights', type: 'string', format: 'uri' } },
    required: ['weights'],
  };

  it('a trainer: TrainingInput/TrainingOutput/TrainingRequest/TrainingResponse and /trainings', async () => {
    const trainer = await loadPredictor(Trainer, { train: true });
    expect(trainer.schema).toStrictEqual(
      cogDocument({
        train: { input: trainingInput, output: trainingOutput },
        enums: { optimizer: enumComponent('optimizer', ['adam', 'sgd']) },
      }),
    );
  });

  it('a predictor and a trainer merged into one document', () => {
    const document = openApiSchema({
      predict: { inputs: Optionals.inputs, output: Optionals.output },
      train: { inputs: Trainer.inputs, output: Trainer.output },
    });
    const expected = cogDocument({
      predict: {
        input: {
          title: 'Input',
          type: 'object',
          properties: {
            seed: { title: 'Seed', type: 'integer', nullable: true, 'x-order': 0 },
            negative_prompt: { title: 'Negative Prompt', type: 'string', description: 'What to avoid', nullable: true, 'x-order': 1 },
            strength: { title: 'Strength', type: 'number', default: 0.8, minimum: 0, maximum: 1, nullable: true, 'x-order': 2 },
            tags: { title: 'Tags', type: 'array', items: { type: 'string' }, nullable: true, 'x-order': 3 },
            name: { title: 'Name', type: 'string', 'x-order': 4 },
          },
          required: ['name'],
        },
        output: { title: 'Output', type: 'array', items: { type: 'string' } },
      },
      train: { input: trainingInput, output: trainingOutput },
      enums: { optimizer: enumComponent('optimizer', ['adam', 'sgd']) },
    });
    expect(document).toStrictEqual(expected);
    expect(Object.keys(document.paths as Json)).toEqual([
      '/',
      '/health-check',
      '/predictions',
      '/predictions/{prediction_id}',
      '/predictions/{prediction_id}/cancel',
      '/trainings',
      '/trainings/{training_id}',
      '/trainings/{training_id}/cancel',
    ]);
  });

  it("titles: snake_case words capitalised and joined with spaces ('no_default' → 'No Default')", async () => {
    class Titles extends BasePredictor {
      static inputs = { no_default: Type.String(), x: Type.String(), image_2_image: Type.String(), prompt: Type.String() };
      predict(): string {
        return '';
      }
    }
    const input = (
      (await loadPredictor(Titles)).schema.components as {
        schemas: { Input: { properties: Record<string, { title: string; 'x-order': number }> } };
      }
    ).schemas.Input;
    expect(Object.values(input.properties).map((property) => [property.title, property['x-order']])).toEqual([
      ['No Default', 0],
      ['X', 1],
      ['Image 2 Image', 2],
      ['Prompt', 3],
    ]);
  });

  it('output shapes Cog allows beyond the basics: nested lists, dicts of a type, iterators of lists', () => {
    const outputOf = (
      output: Parameters<typeof openApiSchema>[0] extends infer S ? (S extends { predict?: { output: infer O } } ? O : never) : never,
    ) => (openApiSchema({ predict: { inputs: {}, output } }).components as { schemas: { Output: Json } }).schemas.Output;
    expect(outputOf(Type.Array(Type.Array(Type.Number())))).toStrictEqual({
      title: 'Output',
      type: 'array',
      items: { type: 'array', items: { type: 'number' } },
    });
    expect(outputOf(Type.Record(Type.String(), Type.Integer()))).toStrictEqual({
      title: 'Output',
      type: 'object',
      additionalProperties: { type: 'integer' },
    });
    expect(outputOf(Type.Iterator(Type.Array(Type.Number())))).toStrictEqual({
      title: 'Output',
      type: 'array',
      items: { type: 'array', items: { type: 'number' } },
      'x-cog-array-type': 'iterator',
    });
    expect(outputOf(undefined)).toStrictEqual({ title: 'Output' });
  });

  it('is built once per loaded predictor, from the declaration checked at load, and served as is', async () => {
    const predictor = await loadPredictor(Choices);
    const first = predictor.schema;
    expect(predictor.schema).toBe(first);
    // The same document a fresh check and write of the declaration gives.
    expect(first).toStrictEqual(openApiSchema({ predict: { inputs: Choices.inputs, output: Choices.output } }));
  });
});

describe('predictors whose schema Cog cannot express fail at load, naming the input', () => {
  const cases: [string, Json, RegExp][] = [
    ['a nested list input', { grid: Type.Array(Type.Array(Type.Integer())) }, /input 'grid'.*nested lists are not supported/],
    ['a Path inside a union', { source: Type.Union([Type.Path(), Type.String()]) }, /input 'source'.*unions may hold only JSON types/],
    [
      'a list of Paths inside a union',
      { source: Type.Union([Type.Array(Type.Path()), Type.String()]) },
      /input 'source'.*not files or secrets/,
    ],
    ['a Secret inside a union', { token: Type.Union([Type.Secret(), Type.Integer()]) }, /input 'token'.*not files or secrets/],
    ['an Iterator as an input', { stream: Type.Iterator(Type.String()) }, /input 'stream'.*only valid as a predictor's whole output/],
    ['a list of optional items', { tags: Type.Array(Type.Optional(Type.String())) }, /input 'tags'.*list items cannot be optional/],
    [
      'accept on a string input',
      { prompt: Input(Type.String(), { accept: 'image/*' }) },
      /input 'prompt'.*'accept' applies only to Type.Path\(\) and Type.File\(\)/,
    ],
    [
      'choices of mixed types',
      { size: Input(Type.Integer(), { choices: [1, 2.5] }) },
      /input 'size'.*choices must be all strings or all integers/,
    ],
    [
      'choices on a list',
      { sizes: Input(Type.Array(Type.Integer()), { choices: [[1]] }) },
      /input 'sizes'.*'choices' applies only to Type.String\(\) and Type.Integer\(\)/,
    ],
    [
      'a choice input named like a component',
      { Status: Input(Type.String(), { choices: ['a', 'b'] }) },
      /input 'Status'.*taken by Cog's own schema/,
    ],
    [
      'an invalid regex',
      { code: Input(Type.String(), { regex: '([a-z' }) },
      /input 'code'.*'regex' "\(\[a-z" is not a valid regular expression/,
    ],
    ['a union with null', { maybe: Type.Union([Type.String(), Type.Null()]) }, /input 'maybe'.*use Type.Optional/],
    ['a tuple', { pair: Type.Tuple([Type.String(), Type.Integer()]) }, /input 'pair'.*tuples are not supported/],
  ];
  for (const [what, inputs, message] of cases) {
    it(what, async () => {
      class Bad extends BasePredictor {
        static inputs = inputs as Record<string, ReturnType<typeof Type.String>>;
        predict(): string {
          return '';
        }
      }
      const error = await loadPredictor(Bad).then(
        () => undefined,
        (reason: unknown) => reason,
      );
      expect(error).toBeInstanceOf(PredictorLoadError);
      expect((error as Error).message).toMatch(message);
    });
  }

  it('an optional output', async () => {
    class OptionalOutput extends BasePredictor {
      static output = Type.Optional(Type.String());
      predict(): string {
        return '';
      }
    }
    await expect(loadPredictor(OptionalOutput)).rejects.toThrow(/predictor output: an optional output is not supported/);
    expect(() => openApiSchema({ predict: { inputs: {}, output: Type.Union([Type.String(), Type.Null()]) } })).toThrow(
      'predictor output: an optional output is not supported',
    );
    // Inside an output object, `T | null` is a nullable field.
    const document = openApiSchema({ predict: { inputs: {}, output: Type.Object({ caption: Type.Union([Type.String(), Type.Null()]) }) } });
    expect((document.components as { schemas: { Output: Json } }).schemas.Output).toStrictEqual({
      title: 'Output',
      type: 'object',
      properties: { caption: { title: 'Caption', type: 'string', nullable: true } },
      required: ['caption'],
    });
  });

  it('an output object with a nested object field', async () => {
    class Nested extends BasePredictor {
      static output = Type.Object({ meta: Type.Object({ seed: Type.Integer() }) });
      predict(): never {
        throw new Error('not run');
      }
    }
    await expect(loadPredictor(Nested)).rejects.toThrow(/field 'meta' is an object; nested objects are not supported/);
  });

  it('two enumerations with one name and different values (predictor and trainer)', () => {
    expect(() =>
      openApiSchema({
        predict: { inputs: { optimizer: Input(Type.String(), { choices: ['adam'] }) }, output: undefined },
        train: { inputs: Trainer.inputs, output: Trainer.output },
      }),
    ).toThrow(/trainer input 'optimizer': an enumeration named 'optimizer' already exists with other values/);
  });
});
