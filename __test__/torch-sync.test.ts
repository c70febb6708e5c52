// Module calls on the calling thread: `forwardSync`/`callSync`/`runStepsSync` anywhere, and
// `forward`/`call`/`runSteps` in a worker thread (where the server runs predictors), which then
// settle their promise before returning, still under no-grad, and stopped by a prediction's
// token that the main thread cancels.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { Tensor, expectTensor, loadTorchScript } from '../src/torch/index.js';
import { makeTorchFixtures, repoRoot } from './helpers/torch.js';

let dir: string;

beforeAll(() => {
  dir = makeTorchFixtures();
});

const values = (value: unknown) => Array.from(expectTensor(value).toTypedArray() as Float32Array);

describe('blocking calls on the main thread', () => {
  it('forwardSync, callSync and runStepsSync return what the promise forms resolve to', async () => {
    const module = await loadTorchScript(join(dir, 'mlp.pt'));
    const x = Tensor.fromTypedArray(new Float32Array(20).fill(0.5), [5, 4]);
    expect(values(module.forwardSync(x))).toEqual(values(await module.forward(x)));
    const multi = await loadTorchScript(join(dir, 'multi.pt'));
    expect(multi.callSync('grad_enabled')).toBe(false);
    expect(multi.callSync('total', [1, 2, 3], true, 'ab')).toBe(9);
    const one = Tensor.fromTypedArray(new Float32Array(256).fill(0.5), [1, 256]);
    const steps = { method: 'count_step', steps: 3, inputs: [one], withStepIndex: true };
    expect(values(multi.runStepsSync(steps))).toEqual(values(await multi.runSteps(steps)));
  });

  it('throws libtorch’s message, and refuses an aborted signal, synchronously', async () => {
    const multi = await loadTorchScript(join(dir, 'multi.pt'));
    const wrong = Tensor.fromTypedArray(new Float32Array(6), [2, 3]);
    expect(() => multi.callSync('concat', [wrong, Tensor.fromTypedArray(new Float32Array(4), [2, 2])])).toThrow(
      /Sizes of tensors must match/,
    );
    expect(() => multi.callSync('no_such_method')).toThrow(/no_such_method/);
    const controller = new AbortController();
    controller.abort();
    expect(() => multi.withCancel({ signal: controller.signal }).callSync('steps')).toThrow(
      expect.objectContaining({ name: 'CancelationError' }),
    );
    expect(() => multi.runStepsSync({ steps: -1, inputs: [] })).toThrow(RangeError);
  });
});

// Plain JS against dist/ (built by `npm run build:ts`), so that workers need no TS loader.
const url = (path: string) => new URL(`file://${join(repoRoot, 'dist', path)}`).href;
const script = `
import { Worker } from 'node:worker_threads';
const { CancelToken } = await import(process.env.ADDON_URL);
const worker = new Worker(\`
  const { parentPort } = await import('node:worker_threads');
  const t = await import(process.env.TORCH_URL);
  const { CancelToken } = await import(process.env.ADDON_URL);
  const { BatchScope, PredictionScope, runInScope } = await import(process.env.SCOPE_URL);
  const multi = await t.loadTorchScript(process.env.MULTI);
  const x = t.Tensor.fromTypedArray(new Float32Array(256).fill(0.5), [1, 256]);
  // Settled when it returned: a value raced against an already resolved promise wins only then.
  const pending = {};
  const settledOnReturn = (promise) => Promise.race([promise, Promise.resolve(pending)]).then((value) => value !== pending, () => true);
  const report = {};
  report.forwardSettledOnReturn = await settledOnReturn(multi.forward(x, x));
  report.gradEnabled = await multi.call('grad_enabled');
  report.withOwnToken = await settledOnReturn(multi.withCancel({ cancelToken: new CancelToken() }).call('steps'));
  // A batch's token is cancelled by this thread when its last item's cancel arrives: not blocking.
  const item = new PredictionScope({ cancelToken: new CancelToken() });
  report.inBatch = await settledOnReturn(runInScope(new BatchScope([item], new CancelToken()), () => multi.call('steps')));
  report.inPrediction = await settledOnReturn(runInScope(item, () => multi.call('steps')));
  parentPort.on('message', ({ tokenId }) => {
    const scope = new PredictionScope({ cancelToken: CancelToken.fromId(tokenId) });
    parentPort.postMessage({ started: true });
    const loop = runInScope(scope, () => multi.runSteps({ method: 'count_step', steps: 1000000, inputs: [x], withStepIndex: true }));
    void settledOnReturn(loop).then(async (settled) => {
      report.loopSettledOnReturn = settled;
      report.loopError = await loop.then(() => 'finished', (error) => error.name);
      report.stepsRun = multi.callSync('steps');
      parentPort.postMessage({ report });
    });
  });
  parentPort.postMessage({ ready: true });
\`, { eval: true });
const token = new CancelToken();
const report = await new Promise((resolve, reject) => {
  worker.on('error', reject);
  worker.on('message', (message) => {
    if (message.ready) worker.postMessage({ tokenId: token.id });
    // The worker's thread is blocked in the loop now: only the main thread can cancel it.
    else if (message.started) setTimeout(() => token.cancel(), 100);
    else if (message.report) resolve(message.report);
  });
});
await worker.terminate();
console.log(JSON.stringify(report));
`;

describe('calls in a worker thread', () => {
  it('run on the calling thread, under no-grad, and obey the prediction’s token', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      cwd: repoRoot,
      env: {
        ...process.env,
        MULTI: join(dir, 'multi.pt'),
        TORCH_URL: url('torch/index.js'),
        ADDON_URL: url('native/addon.js'),
        SCOPE_URL: url('predictor/scope.js'),
      },
    });
    const report = JSON.parse(stdout) as Record<string, unknown>;
    expect(report).toMatchObject({
      forwardSettledOnReturn: true,
      gradEnabled: false,
      // A token of the caller's own may be cancelled by this thread: that call is not blocking.
      withOwnToken: false,
      inBatch: false,
      inPrediction: true,
      loopSettledOnReturn: true,
      loopError: 'CancelationError',
    });
    expect(report.stepsRun).toBeLessThan(1_000_000);
  });
});
