// Prediction requests of 1 MiB and more, with many values, are parsed and validated in a thread of
// their own: a 10 MB body of bad items kept the server's thread busy ~0.5 s, /health-check with it.
import { Worker } from 'node:worker_threads';
import type { ValidationIssue } from '../errors.js';
import { fromSource, ownModule } from '../own-files.js';
import type { PredictorRuntime } from '../runtime/runtime.js';
import { portableSchema } from '../runtime/worker/portable.js';
import { parsePredictionRequest, type ParsedRequest } from './request.js';

/** Smaller bodies are parsed in place (1 MiB of JSON parses in a few milliseconds). */
export const OFF_THREAD_BYTES = 1 << 20;
/**
 * JSON.parse's time goes with the number of values more than with bytes: a 90 MiB string parses
 * in place about as fast as it is copied, while each trip to the thread copies it twice more
 * (~120 MiB more peak RSS). Bodies with fewer commas than this stay here.
 */
const OFF_THREAD_COMMAS = 10_000;

/** Whether `bytes` holds at least `limit` commas (memchr-fast: Buffer.indexOf). */
function hasCommas(bytes: Buffer, limit: number): boolean {
  let at = -1;
  for (let count = 0; count < limit; count++) {
    at = bytes.indexOf(0x2c, at + 1);
    if (at < 0) return false;
  }
  return true;
}

export interface ParseJob {
  id: number;
  /** The body, moved (not copied) to the parsing thread. */
  bytes: Uint8Array;
  /** The predictor's declared inputs as JSON, when it is ready: the input is validated there too. */
  inputs?: string;
}

export type ParseResult = { id: number; parsed: ParsedRequest; invalid?: ValidationIssue[] } | { id: number; failed: string };

/** What the route goes on with: the request, and the 422 detail its input will get (if it is bad). */
export interface ParsedBody {
  parsed: ParsedRequest;
  invalid?: ValidationIssue[];
}

let worker: Worker | undefined;
let nextId = 0;
const pending = new Map<number, (result: ParseResult) => void>();

function parser(): Worker {
  if (worker !== undefined) return worker;
  // Run from TypeScript sources (tests in this process): the thread needs tsx to load.
  const started = new Worker(ownModule('server/parse-thread'), {
    execArgv: fromSource ? ['--import', 'tsx'] : [],
  });
  started.unref();
  started.on('message', (result: ParseResult) => {
    pending.get(result.id)?.(result);
    pending.delete(result.id);
  });
  const fail = (message: string) => {
    if (worker === started) worker = undefined;
    for (const [id, resolve] of pending) resolve({ id, failed: message });
    pending.clear();
  };
  started.on('error', (error) => fail(error.message));
  started.on('exit', (code) => fail(`the parsing thread exited with code ${code}`));
  worker = started;
  return started;
}

/** The inputs a ready runtime declares, as the parsing thread takes them (cached per runtime). */
const declared = new WeakMap<PredictorRuntime, string>();
function inputsOf(runtime: PredictorRuntime | undefined): string | undefined {
  if (runtime === undefined || !runtime.isReady) return undefined;
  let inputs = declared.get(runtime);
  if (inputs === undefined) {
    inputs = JSON.stringify(portableSchema(runtime.target.inputs));
    declared.set(runtime, inputs);
  }
  return inputs;
}

/** `parseBody` for a body parsed in place (small, or few values); undefined for one that goes to the parsing thread. */
export function parseInPlace(bytes: Buffer): ParsedBody | undefined {
  if (bytes.length >= OFF_THREAD_BYTES && hasCommas(bytes, OFF_THREAD_COMMAS)) return undefined;
  return { parsed: parsePredictionRequest(bytes.toString('utf8')) };
}

/**
 * Parses a prediction request body: in place when small, else in the parsing thread (which also
 * validates the input against `runtime`'s declared inputs, so a bad one never comes back here).
 */
export async function parseBody(bytes: Buffer, runtime: PredictorRuntime | undefined): Promise<ParsedBody> {
  const here = parseInPlace(bytes);
  if (here !== undefined) return here;
  const id = nextId++;
  const result = await new Promise<ParseResult>((resolve) => {
    pending.set(id, resolve);
    const view = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
    parser().postMessage({ id, bytes: view, inputs: inputsOf(runtime) } satisfies ParseJob, [bytes.buffer as ArrayBuffer]);
  });
  if ('failed' in result) {
    return {
      parsed: { ok: false, status: 400, body: { error: `The request body could not be parsed: ${result.failed}`, status: 'failed' } },
    };
  }
  return { parsed: result.parsed, invalid: result.invalid };
}
