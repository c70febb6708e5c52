// One errors module: each error cog-node raises carries a stable code and the HTTP status the
// server answers with (Cog 0.22's: 409 at capacity, 503 not ready, 422 invalid input), and the
// health check tells a timeout from a healthcheck whose error merely says 'timeout'.
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  AtCapacityError,
  BasePredictor,
  CancelationError,
  CogNodeError,
  InputValidationError,
  NotReadyError,
  PredictionError,
  PredictorLoadError,
  Type,
  loadPredictor,
} from 'cog-node';

describe('errors carry their code and HTTP status', () => {
  it("the server's refusals: 409 at capacity, 503 not ready, 422 invalid input, each with Cog's message and body", () => {
    const capacity = new AtCapacityError();
    expect(capacity).toBeInstanceOf(CogNodeError);
    expect(capacity).toBeInstanceOf(Error);
    expect({ name: capacity.name, code: capacity.code, status: capacity.status, message: capacity.message }).toEqual({
      name: 'AtCapacityError',
      code: 'COG_AT_CAPACITY',
      status: 409,
      message: 'At capacity - all prediction slots busy',
    });
    expect(capacity.body()).toEqual({ error: 'At capacity - all prediction slots busy', status: 'failed' });

    const notReady = new NotReadyError();
    expect({ code: notReady.code, status: notReady.status }).toEqual({ code: 'COG_NOT_READY', status: 503 });
    expect(notReady.message).toBe('Setup has not finished yet. Wait until it has finished, or GET /health-check for status.');

    const invalid = new InputValidationError([{ loc: ['body', 'input', 'steps'], msg: 'Field required', type: 'value_error.missing' }]);
    expect({ code: invalid.code, status: invalid.status, message: invalid.message }).toEqual({
      code: 'COG_INVALID_INPUT',
      status: 422,
      message: 'steps: Field required',
    });
    expect(invalid.body()).toEqual({ detail: [{ loc: ['body', 'input', 'steps'], msg: 'Field required', type: 'value_error.missing' }] });
  });

  it('errors that are no answer of the API (load, cancel, a failed prediction) are 500s that the server treats as internal', () => {
    const load = new PredictorLoadError('predict.ts: no export named Predictor');
    expect({ name: load.name, code: load.code, status: load.status, answered: load.answered, message: load.message }).toEqual({
      name: 'PredictorLoadError',
      code: 'COG_PREDICTOR_LOAD',
      status: 500,
      answered: false,
      message: 'predict.ts: no export named Predictor',
    });
    const canceled = new CancelationError();
    expect({ code: canceled.code, message: canceled.message }).toEqual({ code: 'COG_CANCELED', message: 'Prediction was canceled' });
    // A `%s` in the thrower's text is kept as written, not filled in.
    expect(new PredictorLoadError('50%s done').message).toBe('50%s done');
    const failed = new PredictionError({
      id: 'p1',
      status: 'failed',
      input: {},
      output: null,
      error: 'boom',
      logs: '',
      created_at: '',
      metrics: {},
    } as never);
    expect({ code: failed.code, status: failed.status, message: failed.message }).toEqual({
      code: 'COG_PREDICTION_FAILED',
      status: 500,
      message: 'boom',
    });
    expect(new AtCapacityError().answered).toBe(true);
  });

  it('each class keeps its name: on the class, in its stack and where Node prints it', () => {
    for (const [ErrorClass, error] of [
      [PredictorLoadError, new PredictorLoadError('bad')],
      [AtCapacityError, new AtCapacityError()],
    ] as const) {
      expect(ErrorClass.name).toBe(error.name);
      expect(error.stack!.split('\n')[0]).toBe(`${error.name}: ${error.message}`);
      expect(inspect(error).split('\n')[0]).toBe(`${error.name}: ${error.message}`);
    }
  });
});

class SaysTimeout extends BasePredictor {
  static output = Type.String();
  predict(): string {
    return 'ok';
  }
  healthcheck(): boolean {
    throw new Error('timeout');
  }
}

class NeverAnswers extends BasePredictor {
  static output = Type.String();
  predict(): string {
    return 'ok';
  }
  healthcheck(): Promise<boolean> {
    return new Promise(() => undefined);
  }
}

describe('the health check races the answer against the deadline', () => {
  it("a healthcheck that throws Error('timeout') failed, it did not time out", async () => {
    const predictor = await loadPredictor(SaysTimeout);
    expect(await predictor.runtime.healthcheck(1000)).toEqual({ healthy: false, error: 'Healthcheck failed: timeout' });
  });

  it('one that never answers times out with Cog’s message', async () => {
    const predictor = await loadPredictor(NeverAnswers);
    const started = Date.now();
    expect(await predictor.runtime.healthcheck(200)).toEqual({
      healthy: false,
      error: 'Healthcheck failed: user-defined healthcheck timed out after 0.2.0 seconds',
    });
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
