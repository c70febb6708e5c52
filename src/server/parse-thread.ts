// The thread that parses and checks large prediction requests (parse.ts), so that JSON.parse of
// a 10 MB body (200-300 ms here) and its validation never stall the server's own thread.
import { parentPort } from 'node:worker_threads';
import { checkInputs } from '../schema/declaration.js';
import { InputValidationError } from '../errors.js';
import type { InputsDeclaration } from '../predictor/base-predictor.js';
import { InputValidator } from '../schema/input-validator.js';
import type { ParseJob, ParseResult } from './parse.js';
import { parsePredictionRequest } from './request.js';

/** One validator per declared inputs (a worker restart may change them; the JSON text is the key). */
const validators = new Map<string, InputValidator>();

function validatorFor(inputs: string): InputValidator {
  let validator = validators.get(inputs);
  if (validator === undefined) {
    validator = new InputValidator(checkInputs(JSON.parse(inputs) as InputsDeclaration));
    validators.set(inputs, validator);
  }
  return validator;
}

function handle(job: ParseJob): ParseResult {
  const parsed = parsePredictionRequest(Buffer.from(job.bytes.buffer, job.bytes.byteOffset, job.bytes.length).toString('utf8'));
  if (!parsed.ok || job.inputs === undefined) return { id: job.id, parsed };
  try {
    validatorFor(job.inputs).validate(parsed.request.input ?? {});
  } catch (error) {
    if (!(error instanceof InputValidationError)) throw error;
    // The bad input itself stays here: only the (bounded) 422 detail goes back.
    return { id: job.id, parsed: { ok: true, request: { ...parsed.request, input: {} } }, invalid: error.detail };
  }
  return { id: job.id, parsed };
}

parentPort?.on('message', (job: ParseJob) => {
  let result: ParseResult;
  try {
    result = handle(job);
  } catch (error) {
    result = { id: job.id, failed: (error as Error).message };
  }
  parentPort?.postMessage(result);
});
