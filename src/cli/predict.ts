// `cog-node predict` (also `run`) and `cog-node train`: loads the target named in cog.yaml, runs
// its setup and one prediction, and writes the output: files beside the caller, else stdout.
import { copyFile, writeFile } from 'node:fs/promises';
import { basename, extname, resolve } from 'node:path';
import { PredictorLoadError, UsageError } from '../errors.js';
import { loadTarget } from '../load/load-module.js';
import { captureLogs, outsideCapture } from '../runtime/log-capture.js';
import { dataUriEncoder, encodeOutput, filesIn } from '../runtime/output-files.js';
import { Path } from '../predictor/path.js';
import { resolvePlan } from '../load/plan.js';
import { PredictorRuntime } from '../runtime/runtime.js';
import { setEnvironment } from '../load/settings.js';
import { cogKind } from '../predictor/type.js';
import { envPairs, parse } from './args.js';
import { StatusLine, showDownloads, showSetup } from './progress.js';
import { inputsFromFlags, inputsFromJson } from './inputs.js';

export const predictHelp = (
  verb: 'predict' | 'train',
) => `Usage: cog-node ${verb} [-i name=value ...] [--json '{...}'] [-o PATH] [-e NAME=value ...]

Runs setup and one ${verb === 'train' ? 'training' : 'prediction'} of the ${verb === 'train' ? 'trainer' : 'predictor'} named in ./cog.yaml.

Options:
  -i, --input name=value   An input. Repeat a name to build a list. name=@file sends a file.
      --json JSON          All inputs as a JSON object; @file.json reads a file, @- reads stdin.
                           Prints the whole ${verb === 'train' ? 'training' : 'prediction'} object as JSON.
  -o, --output PATH        Where to write the output (default: output.<ext> for files, stdout otherwise).
  -e, --env NAME=value     Set an environment variable for the predictor. Repeatable.
      --setup-timeout SECS Fail when setup() takes longer (default: COG_SETUP_TIMEOUT, else no limit).
  -h, --help               Show this help.

Exit status: 0 when it succeeded, 1 when it failed or was canceled, 2 on bad usage.`;

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** Writes file outputs next to the caller: `output.png`, or `output.0.png`, `output.1.png` for lists. */
async function writeFiles(files: Path[], target: string | undefined): Promise<void> {
  for (const [index, file] of files.entries()) {
    const extension = extname(file.path);
    let destination: string;
    if (target !== undefined && files.length === 1) destination = target;
    else if (target !== undefined)
      destination = `${target.slice(0, target.length - extname(target).length)}.${index}${extname(target) || extension}`;
    else destination = files.length === 1 ? `output${extension}` : `output.${index}${extension}`;
    await copyFile(file.path, resolve(destination));
    log(`Written output to: ${destination}`);
  }
}

export async function predictCommand(args: string[], verb: 'predict' | 'train'): Promise<number> {
  const { values } = parse(args, {
    input: { type: 'string', short: 'i', multiple: true },
    json: { type: 'string' },
    output: { type: 'string', short: 'o' },
    env: { type: 'string', short: 'e', multiple: true },
    'setup-timeout': { type: 'string' },
  });
  if (values.help) {
    console.log(predictHelp(verb));
    return 0;
  }
  if (values.json !== undefined && values.input !== undefined) throw new UsageError('--json and -i cannot be used together');
  let setupTimeout: number | undefined;
  if (values['setup-timeout'] !== undefined) {
    setupTimeout = Number(values['setup-timeout']);
    if (!Number.isFinite(setupTimeout) || setupTimeout < 0) {
      throw new UsageError(`--setup-timeout must be a number of seconds, got ${JSON.stringify(values['setup-timeout'])}`);
    }
  }
  // `-e` is the operator's word: over the real environment, which wins over cog.yaml's.
  setEnvironment(envPairs(values.env));
  const plan = resolvePlan<never>(process.cwd(), { setupTimeout });
  const { cwd } = plan;
  const ref = plan[verb];
  if (ref === undefined)
    throw new PredictorLoadError(
      `cog.yaml: no \`${verb === 'train' ? 'train' : 'predict'}\` target (for example \`${verb === 'train' ? 'train: "train.ts:Trainer"' : 'predict: "predict.ts:Predictor"'}\`)`,
    );
  // What the predictor's module prints as it loads is a log too: stderr, never stdout.
  const target = await captureLogs(
    () => undefined,
    () => loadTarget(ref, cwd, verb === 'train' ? 'train' : 'predict'),
    true,
  );
  const input = await (values.json !== undefined
    ? inputsFromJson(values.json, target.inputs, cwd)
    : inputsFromFlags(values.input ?? [], target.inputs, cwd));

  const runtime = new PredictorRuntime(target, verb === 'train' ? 'train' : 'predict', { ...plan.runtime, echoLogs: true });
  // The CLI's user is the operator: `-i image=@photo.png` is a local file, as Cog's CLI means it.
  const validate = { coerce: true, allowLocalPaths: true };
  // Validate before setup, so a typo doesn't wait for a model to load.
  runtime.validator.validate(input, validate);
  const status = new StatusLine();
  const stopSetup = showSetup(status);
  try {
    await runtime.ready;
  } catch {
    stopSetup();
    log(`Setup failed: ${runtime.setupState.error ?? 'unknown error'}`);
    return 1;
  }
  stopSetup();
  const stopDownloads = showDownloads(status);
  const prediction = runtime.start(input, { validate });
  const cancel = () => {
    log('Canceling...');
    prediction.cancel();
  };
  process.once('SIGINT', cancel);
  // A predictor awaiting only its cancel signal holds no handle; keep the process alive for it.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  const concatenate = cogKind(target.output) === 'concatenate-iterator' && values.json === undefined && values.output === undefined;
  // Emitted from inside the prediction's log capture: write past it, or the tokens would count as logs.
  if (concatenate) prediction.on('output', (chunk) => outsideCapture(() => process.stdout.write(String(chunk))));
  const response = await prediction.done;
  stopDownloads();
  clearInterval(keepAlive);
  process.off('SIGINT', cancel);

  if (values.json !== undefined) {
    const encoded = { ...response, output: await encodeOutput(response.output, dataUriEncoder) };
    const text = `${JSON.stringify(encoded, null, 2)}\n`;
    if (values.output !== undefined) await writeFile(values.output, text);
    else process.stdout.write(text);
    return response.status === 'succeeded' ? 0 : 1;
  }
  if (response.status !== 'succeeded') {
    log(
      `${verb === 'train' ? 'Training' : 'Prediction'} failed with status ${response.status}${response.error ? `: ${response.error}` : ''}`,
    );
    return 1;
  }
  const output = response.output;
  if (concatenate) {
    process.stdout.write('\n');
    return 0;
  }
  const files = filesIn(output);
  if (files.length > 0 && (output instanceof Path || (Array.isArray(output) && files.length === output.length))) {
    await writeFiles(files, values.output ?? (verb === 'train' && files.length === 1 ? `weights${extname(files[0]!.path)}` : undefined));
    return 0;
  }
  const text = typeof output === 'string' ? output : JSON.stringify(await encodeOutput(output, dataUriEncoder), null, 2);
  if (values.output !== undefined) {
    await writeFile(values.output, text);
    log(`Written output to: ${basename(values.output)}`);
  } else {
    process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }
  return 0;
}
