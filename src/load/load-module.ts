// Loading a predictor's module (`.ts` through tsx: no build step) and making a LoadedTarget of the
// class or function it exports. A predictor's forms, and their names across the code:
//   `file.ts:Name`        a reference (cog.yaml's `predict:`/`train:`); loadTarget imports it
//   PredictorDeclaration  the exported class or function and its statics (base-predictor.ts)
//   PredictorInstance     what `new` made of it: setup(), predict()... (base-predictor.ts)
//   PredictorInfo         the declarations without the instance (what a worker thread reports)
//   LoadedTarget          PredictorInfo plus the instance: what loadTarget and targetFrom return
//   PredictorPlan         where `predict` and `train` come from, references or code (plan.ts)
//   ServeSource           what serve() and createApp() accept; a Runnable is one part (source.ts)
//   PredictorRuntime      set up, running predictions (runtime.ts); its `target`: a PredictorInfo
//   CheckedDeclaration    the runtime's `declaration`, checked for Cog (schema/declaration.ts)
//   LoadedPredictor       a set-up runtime for an app: run(), predict(), stream() (embed.ts)
import { existsSync } from 'node:fs';
import { register } from 'node:module';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { TSchema } from 'typebox';
import { PredictorLoadError } from '../errors.js';
import { fromSource, ownModule } from '../own-files.js';
import { compiledPredictor } from './compile-cache.js';
import type { InputsDeclaration, PredictorBatch, PredictorConcurrency, PredictorInstance } from '../predictor/base-predictor.js';
import { cogKind } from '../predictor/type.js';

export type EntryPoint = 'predict' | 'run' | 'train' | 'predictBatch';

/** What the server needs to know of a predictor without running it: its declarations. */
export interface PredictorInfo {
  method: EntryPoint;
  inputs: InputsDeclaration;
  output: TSchema | undefined;
  /** Whether the entry point is an async function or async generator (needed for concurrency > 1). */
  isAsync: boolean;
  /** Whether it defines `healthcheck()`; without one, health needs no call into its thread. */
  hasHealthcheck: boolean;
  /** A human name for messages: `predict.ts:Predictor`. */
  name: string;
  /** Its own `static concurrency = { max }` (Cog's `@cog.concurrent(max=N)`); env and cog.yaml win. */
  concurrency?: number;
  /**
   * Its `static batch`, checked: predictions run in `predictBatch` calls of up to `maxSize`
   * (the entry point, `method`, is then `predictBatch`'s). Undefined: one `predict` each.
   */
  batch: PredictorBatch | undefined;
}

/** A loaded predictor or trainer: its instance, the method to call, and its declarations. */
export interface LoadedTarget extends PredictorInfo {
  instance: PredictorInstance;
}

type Declared = { inputs?: InputsDeclaration; output?: TSchema; concurrency?: PredictorConcurrency; batch?: PredictorBatch };
type Constructor = (new () => PredictorInstance) & Declared;
type PredictFunction = ((inputs: Record<string, unknown>) => unknown) & Declared;

function isClass(value: unknown): value is Constructor {
  return typeof value === 'function' && /^class[\s{]/.test(Function.prototype.toString.call(value));
}

function isAsyncFunction(fn: unknown): boolean {
  const name = (fn as { constructor?: { name?: string } } | undefined)?.constructor?.name;
  return name === 'AsyncFunction' || name === 'AsyncGeneratorFunction';
}

/** `static concurrency = { max: N }`, checked: N a whole number >= 1. */
function declaredConcurrency(declared: Declared, name: string): number | undefined {
  const concurrency: unknown = declared.concurrency;
  if (concurrency === undefined) return undefined;
  const max = typeof concurrency === 'object' && concurrency !== null ? (concurrency as { max?: unknown }).max : undefined;
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 1) {
    throw new PredictorLoadError(
      `${name}: \`concurrency\` must be { max: N } with N an integer >= 1, got ${JSON.stringify(concurrency) ?? String(concurrency)}`,
    );
  }
  return max;
}

const BATCH_RULE = '{ maxSize: N, maxDelayMs: M } with N an integer >= 1 and M a number of milliseconds >= 0';

/**
 * `static batch = { maxSize, maxDelayMs }`, checked: the fields' rules, a `predictBatch` to call,
 * and an output that is one value per input (a stream cannot be batched). Trainers do not batch:
 * a trainer that declares it fails to load rather than silently training one at a time.
 */
function declaredBatch(
  declared: Declared,
  proto: PredictorInstance | undefined,
  kind: 'predict' | 'train',
  name: string,
): PredictorBatch | undefined {
  const batch: unknown = declared.batch;
  if (batch === undefined) return undefined;
  const shown = JSON.stringify(batch) ?? String(batch);
  if (kind === 'train') throw new PredictorLoadError(`${name}: trainers do not batch: remove \`static batch\` (got ${shown})`);
  if (typeof batch !== 'object' || batch === null) throw new PredictorLoadError(`${name}: \`batch\` must be ${BATCH_RULE}, got ${shown}`);
  const { maxSize, maxDelayMs } = batch as { maxSize?: unknown; maxDelayMs?: unknown };
  if (typeof maxSize !== 'number' || !Number.isInteger(maxSize) || maxSize < 1) {
    throw new PredictorLoadError(`${name}: \`batch.maxSize\` must be an integer >= 1, got ${JSON.stringify(maxSize) ?? String(maxSize)}`);
  }
  if (typeof maxDelayMs !== 'number' || !Number.isFinite(maxDelayMs) || maxDelayMs < 0) {
    throw new PredictorLoadError(
      `${name}: \`batch.maxDelayMs\` must be a number of milliseconds >= 0, got ${JSON.stringify(maxDelayMs) ?? String(maxDelayMs)}`,
    );
  }
  if (proto === undefined) {
    throw new PredictorLoadError(`${name}: \`batch\` needs a class with a predictBatch(inputs) method; a function predictor cannot batch`);
  }
  if (typeof proto.predictBatch !== 'function') {
    throw new PredictorLoadError(`${name}: \`static batch\` needs a predictBatch(inputs) method, which the class does not define`);
  }
  const outputKind = cogKind(declared.output);
  if (outputKind === 'iterator' || outputKind === 'concatenate-iterator') {
    throw new PredictorLoadError(
      `${name}: \`static batch\` cannot be used with an iterator output (Type.Iterator / Type.ConcatenateIterator): predictBatch returns one whole output per input`,
    );
  }
  return { maxSize, maxDelayMs };
}

let hooksRegistered = false;

/**
 * Registers, once per thread, tsx (so `.ts` predictors need no build step) and our hook that
 * lets predictors import 'cog-node' without installing it (resolve-hook.ts). tsx is registered
 * globally rather than through its namespaced `tsImport`, which would load a second copy of
 * cog-node for the predictor, with its own scope storage and its own `Path` class.
 */
async function registerHooks(): Promise<void> {
  if (hooksRegistered) return;
  hooksRegistered = true;
  // cog-node's own modules first, without the hooks: once registered, every import of the thread
  // takes a round trip to the hooks' thread (measured: its ~120 modules cost 3× as much CPU
  // through them), and a predictor's `import 'cog-node'` then finds them loaded.
  await import('../index.js');
  // tsx and esbuild only where a predictor is loaded (not on the server's thread of a worker).
  const { register: registerTypeScript } = await import('tsx/esm/api');
  // Under a TypeScript test runner the hook exists only as .ts; it is only needed once built.
  registerTypeScript();
  if (!fromSource) register(ownModule('load/resolve-hook'));
}

/** Imports a `.ts`, `.js` or `.mjs` module (TypeScript through tsx: no build step for the user). */
export async function importModule(file: string): Promise<Record<string, unknown>> {
  const compiled = await compiledPredictor(file);
  if (compiled !== undefined) {
    // As tsx does: a stack names the predictor's own file and lines.
    process.setSourceMapsEnabled(true);
    return (await import(compiled)) as Record<string, unknown>;
  }
  await registerHooks();
  return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
}

/** Makes a predictor out of a class or a function export. */
export function targetFrom(exported: unknown, kind: 'predict' | 'train', name: string): LoadedTarget {
  if (isClass(exported)) {
    const proto = exported.prototype as PredictorInstance;
    const batch = declaredBatch(exported, proto, kind, name);
    let method: EntryPoint;
    if (kind === 'train') {
      if (typeof proto.train !== 'function') throw new PredictorLoadError(`${name}: train method not found`);
      method = 'train';
    } else if (batch !== undefined) {
      // A batching predictor needs no predict(): predictBatch is its entry point.
      method = 'predictBatch';
    } else {
      const hasRun = typeof proto.run === 'function';
      const hasPredict = typeof proto.predict === 'function';
      if (hasRun && hasPredict) throw new PredictorLoadError(`${name}: must define either run() or predict(), not both`);
      if (!hasRun && !hasPredict) throw new PredictorLoadError(`${name}: run or predict method not found`);
      method = hasRun ? 'run' : 'predict';
    }
    let instance: PredictorInstance;
    try {
      instance = new exported();
    } catch (error) {
      throw new PredictorLoadError(`${name}: constructing the class failed: ${(error as Error).message}`);
    }
    return {
      instance,
      method,
      inputs: exported.inputs ?? {},
      output: exported.output,
      isAsync: isAsyncFunction(proto[method]),
      hasHealthcheck: typeof proto.healthcheck === 'function',
      name,
      concurrency: declaredConcurrency(exported, name),
      batch,
    };
  }
  if (typeof exported === 'function') {
    const fn = exported as PredictFunction;
    const method: EntryPoint = kind === 'train' ? 'train' : 'predict';
    return {
      instance: { [method]: (inputs: Record<string, unknown>) => fn(inputs) },
      method,
      inputs: fn.inputs ?? {},
      output: fn.output,
      isAsync: isAsyncFunction(fn),
      hasHealthcheck: false,
      name,
      concurrency: declaredConcurrency(fn, name),
      batch: declaredBatch(fn, undefined, kind, name),
    };
  }
  throw new PredictorLoadError(`${name}: expected a class or a function, got ${typeof exported}`);
}

/**
 * Loads `file.ts:Name` (cog.yaml's `predict:`/`run:`/`train:`) relative to `cwd`. Without a name,
 * looks for `Runner` then `Predictor` (`Trainer` then `train` for training), as Cog does.
 */
export async function loadTarget(ref: string, cwd: string, kind: 'predict' | 'train'): Promise<LoadedTarget> {
  const colon = ref.lastIndexOf(':');
  const [file, exportName] = colon > 1 ? [ref.slice(0, colon), ref.slice(colon + 1)] : [ref, undefined];
  const path = isAbsolute(file) ? file : resolve(cwd, file);
  if (!existsSync(path)) throw new PredictorLoadError(`${ref}: file not found: ${path}`);
  let module: Record<string, unknown>;
  try {
    module = await importModule(path);
  } catch (error) {
    throw new PredictorLoadError(`${ref}: failed to import ${file}: ${(error as Error).stack ?? String(error)}`);
  }
  const candidates = exportName ? [exportName] : kind === 'train' ? ['Trainer', 'train'] : ['Runner', 'Predictor'];
  const found = candidates.find((candidate) => module[candidate] !== undefined);
  if (found === undefined) {
    throw new PredictorLoadError(`${ref}: ${file} exports no ${candidates.join(' or ')}`);
  }
  return targetFrom(module[found], kind, `${file}:${found}`);
}
