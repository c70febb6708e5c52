import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { PredictorLoadError } from './errors.js';

/** What cog-node reads from cog.yaml (the same file Cog reads; other keys are accepted). */
export interface CogConfig {
  /** `predict:` or Cog 0.20's `run:`: `file.ts:ExportName`. */
  predict?: string;
  train?: string;
  /** `max` is unset when cog.yaml does not say: the predictor's own `static concurrency` decides. */
  concurrency: { max?: number };
  /** `environment: ["NAME=value"]`, applied to the predictor's process. */
  environment: Record<string, string>;
  /** The folder holding cog.yaml; references resolve against it. */
  dir: string;
}

function fail(file: string, message: string): never {
  throw new PredictorLoadError(`${file}: ${message}`);
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
  const config = raw as Record<string, unknown>;
  if (config.predict !== undefined && config.run !== undefined) {
    fail(file, 'set either `run` or `predict` (its older name), not both');
  }
  const predict = config.run ?? config.predict;
  if (predict !== undefined && typeof predict !== 'string') fail(file, '`predict` must be a string like "predict.ts:Predictor"');
  if (config.train !== undefined && typeof config.train !== 'string') fail(file, '`train` must be a string like "train.ts:Trainer"');
  let max: number | undefined;
  const concurrency = config.concurrency;
  if (concurrency !== undefined && concurrency !== null) {
    if (typeof concurrency !== 'object') fail(file, '`concurrency` must be a mapping such as `{max: 4}`');
    const value = (concurrency as Record<string, unknown>).max;
    if (value !== undefined) {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) fail(file, '`concurrency.max` must be an integer >= 1');
      max = value;
    }
  }
  const environment: Record<string, string> = {};
  if (config.environment !== undefined) {
    if (!Array.isArray(config.environment)) fail(file, '`environment` must be a list of "NAME=value"');
    for (const entry of config.environment as unknown[]) {
      const match = typeof entry === 'string' ? /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(entry) : null;
      if (!match) fail(file, `\`environment\` entry ${JSON.stringify(entry)} is not "NAME=value"`);
      if (match[1]! in environment) fail(file, `\`environment\` sets ${match[1]} twice`);
      environment[match[1]!] = match[2]!;
    }
  }
  return { predict: predict as string | undefined, train: config.train as string | undefined, concurrency: { max }, environment, dir };
}

/** `COG_MAX_CONCURRENCY` > `concurrency.max` > 1; invalid values count as 1, as in Cog. */
export function resolveConcurrency(config: Pick<CogConfig, 'concurrency'> | undefined): number {
  const fromEnv = process.env.COG_MAX_CONCURRENCY;
  if (fromEnv !== undefined && fromEnv !== '') {
    const value = Number.parseInt(fromEnv, 10);
    return Number.isInteger(value) && value > 0 ? value : 1;
  }
  return config?.concurrency.max ?? 1;
}

/** `COG_SETUP_TIMEOUT` in seconds; unset or 0: no limit. */
export function setupTimeoutFromEnv(): number {
  const value = Number.parseFloat(process.env.COG_SETUP_TIMEOUT ?? '');
  return Number.isFinite(value) && value > 0 ? value : 0;
}
