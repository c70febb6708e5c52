// cog.yaml: its schema (also published as cog.schema.json for editors), reading and validating
// it, and errors that name the broken key. What wins over its values is plan.ts's rule, not this.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Static, TSchema } from 'typebox';
import { Type } from '../vendor/typebox.js';
import { Value } from '../vendor/typebox-compile.js';
import { parse } from '../vendor/yaml.js';
import { PredictorLoadError } from '../errors.js';

/** The samplers of `observability.traces.sampler`, OpenTelemetry's names (as Cog 0.23). */
export const SAMPLERS = [
  'parentbased_always_off',
  'parentbased_always_on',
  'parentbased_traceidratio',
  'always_on',
  'always_off',
  'traceidratio',
] as const;

/**
 * cog.yaml as cog-node reads it: the one description of the file. It validates cog.yaml here and
 * is published as cog.schema.json (scripts/cog-yaml-schema.mjs) for editors. A key is one line;
 * `errorMessage` (which editors also show) is the rule in words, for errors that name the key.
 * Cog's other keys are accepted: the same file builds the image with Cog.
 */
export const cogYamlSchema = Type.Object(
  {
    predict: Type.Optional(
      Type.String({
        description: "The predictor: `file.ts:ExportName` (.ts, .js or .mjs), as Cog's `predict.py:Predictor`",
        errorMessage: 'must be a string like "predict.ts:Predictor"',
      }),
    ),
    run: Type.Optional(
      Type.String({ description: "Cog 0.20's name for `predict`", errorMessage: 'must be a string like "predict.ts:Predictor"' }),
    ),
    train: Type.Optional(
      Type.String({ description: 'The trainer: `file.ts:ExportName`', errorMessage: 'must be a string like "train.ts:Trainer"' }),
    ),
    concurrency: Type.Optional(
      Type.Object(
        {
          max: Type.Optional(
            Type.Integer({
              minimum: 1,
              description: 'Predictions in flight at once (needs an async predict); COG_MAX_CONCURRENCY overrides it',
              errorMessage: 'must be an integer >= 1',
            }),
          ),
          instances: Type.Optional(
            Type.Integer({
              minimum: 1,
              description: 'Model instances, each a worker thread with its own setup(); COG_INSTANCES overrides it',
              errorMessage: 'must be an integer >= 1',
            }),
          ),
        },
        {
          description: 'How many predictions run at once, and on how many model instances',
          errorMessage: 'must be a mapping such as `{max: 4}`',
        },
      ),
    ),
    queue: Type.Optional(
      Type.Object(
        {
          max: Type.Optional(
            Type.Integer({
              minimum: 0,
              description: 'Predictions that may wait for a slot; 0 answers 409 at capacity, as Cog; COG_QUEUE_MAX overrides it',
              errorMessage: 'must be an integer >= 0',
            }),
          ),
        },
        { description: 'The line of predictions waiting for a slot', errorMessage: 'must be a mapping such as `{max: 256}`' },
      ),
    ),
    predict_timeout: Type.Optional(
      Type.Number({
        exclusiveMinimum: 0,
        description: 'Seconds from creation (waiting and running) before a prediction fails; COG_PREDICT_TIMEOUT overrides it',
        errorMessage: 'must be a number of seconds > 0',
      }),
    ),
    observability: Type.Optional(
      Type.Object(
        {
          traces: Type.Optional(
            Type.Union(
              [
                Type.Boolean(),
                Type.Object(
                  {
                    enabled: Type.Optional(
                      Type.Boolean({ description: 'Trace predictions and setup (OTLP/HTTP)', errorMessage: 'must be true or false' }),
                    ),
                    sampler: Type.Optional(
                      Type.Union(
                        [
                          Type.Literal('parentbased_always_off'),
                          Type.Literal('parentbased_always_on'),
                          Type.Literal('parentbased_traceidratio'),
                          Type.Literal('always_on'),
                          Type.Literal('always_off'),
                          Type.Literal('traceidratio'),
                        ],
                        {
                          description: 'Which traces are recorded (default `parentbased_always_off`); OTEL_TRACES_SAMPLER overrides it',
                          errorMessage: `must be one of ${SAMPLERS.join(', ')}`,
                        },
                      ),
                    ),
                    sampler_arg: Type.Optional(
                      Type.String({
                        pattern: '^(0(\\.[0-9]+)?|1(\\.0+)?)$',
                        description: 'The ratio of the `*traceidratio` samplers, a string from "0" to "1"',
                        errorMessage: 'must be a string from "0" to "1"',
                      }),
                    ),
                  },
                  { additionalProperties: true },
                ),
              ],
              {
                description: 'OpenTelemetry tracing: `true`, or `{enabled, sampler, sampler_arg}`',
                errorMessage: 'must be true, false or a mapping such as `{enabled: true}`',
              },
            ),
          ),
        },
        {
          additionalProperties: true,
          description: 'Traces, as Cog 0.23',
          errorMessage: 'must be a mapping such as `{traces: {enabled: true}}`',
        },
      ),
    ),
    environment: Type.Optional(
      Type.Array(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*=', errorMessage: 'must be "NAME=value"' }), {
        description: 'Environment variables for the predictor, `NAME=value` (the real environment wins)',
        errorMessage: 'must be a list of "NAME=value"',
      }),
    ),
    build: Type.Optional(
      Type.Object({}, { additionalProperties: true, description: 'Cog: how the image is built (cog-node does not read it)' }),
    ),
    image: Type.Optional(Type.String({ description: 'Cog: the image name to push to (cog-node does not read it)' })),
  },
  { title: 'cog.yaml', description: "Cog's cog.yaml, as cog-node and Cog read it", additionalProperties: true },
);

/** cog.yaml after validation, as written (the normalized values are in `CogConfig`). */
export type CogYaml = Static<typeof cogYamlSchema>;

/** What cog-node reads from cog.yaml (the same file Cog reads; other keys are accepted). */
export interface CogConfig {
  /** `predict:` or Cog 0.20's `run:`: `file.ts:ExportName`. */
  predict?: string;
  train?: string;
  /** `max` is unset when cog.yaml does not say: the predictor's own `static concurrency` decides. */
  concurrency: { max?: number; instances?: number };
  /** `queue.max`: unset when cog.yaml does not say. */
  queue: { max?: number };
  /** `predict_timeout`, seconds. */
  predictTimeout?: number;
  /** `observability.traces` (`traces: true` is `{ enabled: true }`); unset keys: cog.yaml does not say. */
  traces: { enabled?: boolean; sampler?: string; samplerArg?: string };
  /** `environment: ["NAME=value"]`, applied to the predictor's process. */
  environment: Record<string, string>;
  /** The folder holding cog.yaml; references resolve against it. */
  dir: string;
  /** The whole validated file: a key added to `cogYamlSchema` is read from here. */
  document: CogYaml;
}

function fail(file: string, message: string): never {
  throw new PredictorLoadError(`${file}: ${message}`);
}

/** `/concurrency/max` → `concurrency.max`, `/environment/0` → `environment[0]`. */
function keyName(instancePath: string): string {
  return instancePath
    .split('/')
    .slice(1)
    .map((part, index) => (/^\d+$/.test(part) ? `[${part}]` : `${index === 0 ? '' : '.'}${part.replace(/~1/g, '/').replace(/~0/g, '~')}`))
    .join('');
}

/** The schema a JSON pointer (`#/properties/concurrency/properties/max`) points at. */
function schemaAt(pointer: string): TSchema | undefined {
  let node: unknown = cogYamlSchema;
  for (const part of pointer.replace(/^#\/?/, '').split('/').filter(Boolean)) node = (node as Record<string, unknown> | undefined)?.[part];
  return node as TSchema | undefined;
}

/** The first broken rule, worded as `key` must be ...; the value is shown where it helps. */
function firstViolation(document: unknown): string | undefined {
  const errors = [...Value.Errors(cogYamlSchema, document)];
  let error = errors[0];
  if (error === undefined) return undefined;
  // Inside a union (`traces: true` or a mapping) the first error is the first branch's: name the
  // deepest broken key with a rule of its own instead (the union's, when the value fits no branch).
  if (error.schemaPath.includes('/anyOf/')) {
    const within = errors.filter(
      (candidate) =>
        candidate.instancePath.startsWith(error!.instancePath) &&
        (schemaAt(candidate.schemaPath) as { errorMessage?: string } | undefined)?.errorMessage,
    );
    const depth = Math.max(...within.map((candidate) => candidate.instancePath.length));
    error = within.filter((candidate) => candidate.instancePath.length === depth).pop() ?? error;
  }
  const rule = (schemaAt(error.schemaPath) as { errorMessage?: string } | undefined)?.errorMessage ?? error.message;
  const key = keyName(error.instancePath);
  let value: unknown = document;
  for (const part of error.instancePath.split('/').slice(1)) value = (value as Record<string, unknown>)[part];
  return `\`${key}\` ${rule}${typeof value === 'object' ? '' : ` (got ${JSON.stringify(value)})`}`;
}

/** Reads `cog.yaml` from `dir`. Missing file: an error that says what to write. */
export function readConfig(dir: string): CogConfig {
  const file = join(dir, 'cog.yaml');
  if (!existsSync(file)) {
    fail(file, 'not found. Run `cog-node init`, or write a cog.yaml with `predict: "predict.ts:Predictor"`');
  }
  let raw: unknown;
  try {
    raw = parse(readFileSync(file, 'utf8'));
  } catch (error) {
    fail(file, `invalid YAML: ${(error as Error).message}`);
  }
  if (raw === null || raw === undefined) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw)) fail(file, 'must be a mapping of keys');
  // A key written with no value (`concurrency:`) is YAML's null: as if it were not there.
  const document = Object.fromEntries(Object.entries(raw as Record<string, unknown>).filter(([, value]) => value !== null)) as CogYaml;
  const violation = firstViolation(document);
  if (violation !== undefined) fail(file, violation);
  if (document.predict !== undefined && document.run !== undefined) {
    fail(file, 'set either `run` or `predict` (its older name), not both');
  }
  const environment: Record<string, string> = {};
  for (const entry of document.environment ?? []) {
    const eq = entry.indexOf('=');
    const name = entry.slice(0, eq);
    if (name in environment) fail(file, `\`environment\` sets ${name} twice`);
    environment[name] = entry.slice(eq + 1);
  }
  const traces = document.observability?.traces;
  const tracesObject = typeof traces === 'object' ? traces : undefined;
  if (tracesObject?.sampler?.endsWith('traceidratio') && tracesObject.sampler_arg === undefined) {
    fail(file, `\`observability.traces.sampler_arg\` is required by the ${tracesObject.sampler} sampler (a string from "0" to "1")`);
  }
  return {
    predict: document.run ?? document.predict,
    train: document.train,
    concurrency: { max: document.concurrency?.max, instances: document.concurrency?.instances },
    queue: { max: document.queue?.max },
    predictTimeout: document.predict_timeout,
    traces: {
      enabled: typeof traces === 'boolean' ? traces : tracesObject?.enabled,
      sampler: tracesObject?.sampler,
      samplerArg: tracesObject?.sampler_arg,
    },
    environment,
    dir,
    document,
  };
}
