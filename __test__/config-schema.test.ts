// cog.yaml's one description (src/load/cog-yaml.ts): its validation errors name the key and the rule,
// and the JSON Schema shipped for editors (cog.schema.json, written by build:ts) is that schema.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Value } from 'typebox/value';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { readConfig } from 'cog-node';
import { cogYamlSchema } from '../src/load/cog-yaml.js';
import { ROOT, cli, project } from './helpers/cli.js';

const published = JSON.parse(readFileSync(join(ROOT, 'cog.schema.json'), 'utf8')) as Record<string, unknown>;

/** readConfig on a real cog.yaml; the error message without the folder. */
function configError(yaml: string): string {
  const dir = project({ 'cog.yaml': yaml });
  try {
    readConfig(dir);
  } catch (error) {
    return (error as Error).message.replace(join(dir, 'cog.yaml'), 'cog.yaml');
  }
  throw new Error(`accepted: ${yaml}`);
}

describe('cog.yaml validation', () => {
  it.each([
    ['predict: 3\n', 'cog.yaml: `predict` must be a string like "predict.ts:Predictor" (got 3)'],
    ['predict: "p.ts"\nconcurrency:\n  max: 1.5\n', 'cog.yaml: `concurrency.max` must be an integer >= 1 (got 1.5)'],
    ['predict: "p.ts"\nconcurrency: 4\n', 'cog.yaml: `concurrency` must be a mapping such as `{max: 4}` (got 4)'],
    ['predict: "p.ts"\nconcurrency:\n  instances: 0\n', 'cog.yaml: `concurrency.instances` must be an integer >= 1 (got 0)'],
    ['predict: "p.ts"\nqueue:\n  max: -1\n', 'cog.yaml: `queue.max` must be an integer >= 0 (got -1)'],
    ['predict: "p.ts"\nqueue: 10\n', 'cog.yaml: `queue` must be a mapping such as `{max: 256}` (got 10)'],
    ['predict: "p.ts"\npredict_timeout: 0\n', 'cog.yaml: `predict_timeout` must be a number of seconds > 0 (got 0)'],
    ['predict: "p.ts"\nenvironment:\n  - A=1\n  - oops\n', 'cog.yaml: `environment[1]` must be "NAME=value" (got "oops")'],
    ['predict: "p.ts"\nenvironment: A=1\n', 'cog.yaml: `environment` must be a list of "NAME=value" (got "A=1")'],
    ['predict: "p.ts"\nenvironment: ["A=1", "A=2"]\n', 'cog.yaml: `environment` sets A twice'],
    [
      'predict: "p.ts"\nobservability:\n  traces:\n    sampler: sometimes\n',
      'cog.yaml: `observability.traces.sampler` must be one of parentbased_always_off, parentbased_always_on, parentbased_traceidratio, always_on, always_off, traceidratio (got "sometimes")',
    ],
    [
      'predict: "p.ts"\nobservability:\n  traces: 3\n',
      'cog.yaml: `observability.traces` must be true, false or a mapping such as `{enabled: true}` (got 3)',
    ],
    [
      'predict: "p.ts"\nobservability:\n  traces:\n    enabled: "yes"\n',
      'cog.yaml: `observability.traces.enabled` must be true or false (got "yes")',
    ],
    [
      'predict: "p.ts"\nobservability:\n  traces:\n    sampler: traceidratio\n    sampler_arg: "2"\n',
      'cog.yaml: `observability.traces.sampler_arg` must be a string from "0" to "1" (got "2")',
    ],
    [
      'predict: "p.ts"\nobservability:\n  traces:\n    sampler: parentbased_traceidratio\n',
      'cog.yaml: `observability.traces.sampler_arg` is required by the parentbased_traceidratio sampler (a string from "0" to "1")',
    ],
  ])('%j: %s', (yaml, message) => {
    expect(configError(yaml)).toBe(message);
  });

  it("accepts Cog's other keys and empty ones, and keeps the whole document", () => {
    const config = readConfig(
      project({
        'cog.yaml':
          'build:\n  gpu: true\n  python_version: "3.12"\nimage: r8.im/me/model\npredict: "p.ts:P"\nconcurrency:\nenvironment: ["A=b=c"]\ntests: []\n',
      }),
    );
    // An empty `concurrency:` says nothing: the predictor's own `static concurrency` (else 1) decides.
    expect(config).toMatchObject({ predict: 'p.ts:P', concurrency: {}, environment: { A: 'b=c' } });
    expect(config.concurrency.max).toBeUndefined();
    expect(config.document).toMatchObject({ build: { gpu: true }, image: 'r8.im/me/model', tests: [] });
  });
});

describe('observability.traces', () => {
  it('reads `traces: true` and the mapping form', () => {
    expect(readConfig(project({ 'cog.yaml': 'predict: "p.ts"\nobservability:\n  traces: true\n' })).traces).toEqual({ enabled: true });
    expect(
      readConfig(
        project({
          'cog.yaml': 'predict: "p.ts"\nobservability:\n  traces:\n    enabled: true\n    sampler: traceidratio\n    sampler_arg: "0.5"\n',
        }),
      ).traces,
    ).toEqual({ enabled: true, sampler: 'traceidratio', samplerArg: '0.5' });
    expect(readConfig(project({ 'cog.yaml': 'predict: "p.ts"\n' })).traces).toEqual({});
  });
});

describe('cog.schema.json', () => {
  it('is the TypeBox schema cog-node validates with, as a draft-07 JSON Schema', () => {
    expect(published).toEqual({ $schema: 'http://json-schema.org/draft-07/schema#', ...JSON.parse(JSON.stringify(cogYamlSchema)) });
  });

  it('checks a cog.yaml as an editor would, and accepts what cog-node init writes', async () => {
    const dir = project({});
    writeFileSync(join(dir, 'package.json'), '{}');
    expect((await cli(['init'], { cwd: dir })).code).toBe(0);
    const written = readFileSync(join(dir, 'cog.yaml'), 'utf8');
    expect(written.split('\n')[0]).toBe('# yaml-language-server: $schema=node_modules/cog-node/cog.schema.json');
    expect(Value.Check(published, parse(written))).toBe(true);
    expect(Value.Check(published, { predict: 'p.ts', build: { gpu: true }, image: 'x' })).toBe(true);
    expect(Value.Check(published, { concurrency: { max: 0 } })).toBe(false);
    expect(Value.Check(published, { environment: ['lowercase ok=1'] })).toBe(false);
  });
});
