// `cog-node schema`: prints the OpenAPI document of the predictor (and trainer) in cog.yaml, as
// the server serves it, without running setup. The document is written by schema/openapi.ts.
import { PredictorLoadError } from '../errors.js';
import { loadTarget } from '../load/load-module.js';
import { openApiSchema, type SchemaSources } from '../schema/openapi.js';
import { resolvePlan } from '../load/plan.js';
import { parse } from './args.js';

export const schemaHelp = `Usage: cog-node schema

Prints the OpenAPI document of the predictor (and trainer) named in ./cog.yaml, as the
server serves it at /openapi.json. Nothing is set up or run.

Options:
  -h, --help   Show this help.`;

export async function schemaCommand(args: string[]): Promise<number> {
  const { values } = parse(args, {});
  if (values.help) {
    console.log(schemaHelp);
    return 0;
  }
  const plan = resolvePlan<never>(process.cwd());
  const sources: SchemaSources = {};
  if (plan.predict !== undefined) {
    const target = await loadTarget(plan.predict, plan.cwd, 'predict');
    sources.predict = { inputs: target.inputs, output: target.output };
  }
  if (plan.train !== undefined) {
    const target = await loadTarget(plan.train, plan.cwd, 'train');
    sources.train = { inputs: target.inputs, output: target.output };
  }
  if (sources.predict === undefined && sources.train === undefined) {
    throw new PredictorLoadError('cog.yaml names neither `predict` nor `train`');
  }
  process.stdout.write(`${JSON.stringify(openApiSchema(sources), null, 2)}\n`);
  return 0;
}
