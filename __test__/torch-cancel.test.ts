// Cancellation: a prediction's token (or an AbortSignal) stops inference between module calls
// and between the steps of a loop running in Rust, with CancelationError.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CancelationError } from '../src/errors.js';
import { CancelToken } from '../src/native/addon.js';
import { PredictionScope, runInScope } from '../src/predictor/scope.js';
import { Tensor, expectTensor, loadTorchScript, type TorchScriptModule } from '../src/torch/index.js';
import { makeTorchFixtures } from './helpers/torch.js';

let dir: string;
const input = () => Tensor.fromTypedArray(new Float32Array(256).fill(0.5), [1, 256]);
// Far more steps than a test could wait for: finishing means cancellation did not work.
const LONG = 1_000_000;

async function fresh(): Promise<TorchScriptModule> {
  return loadTorchScript(join(dir, 'multi.pt'));
}

async function stepsRun(module: TorchScriptModule): Promise<number> {
  return (await module.withCancel({ cancelToken: null }).call('steps')) as number;
}

beforeAll(() => {
  dir = makeTorchFixtures();
});

describe('cancellation', () => {
  it('stops a multi-step loop mid-way when its token is cancelled', async () => {
    const module = await fresh();
    const token = new CancelToken();
    const loop = module.runSteps({ method: 'count_step', steps: LONG, inputs: [input()], withStepIndex: true, cancelToken: token });
    // The inference thread is busy with the loop until it obeys the token.
    setTimeout(() => token.cancel(), 50);
    await expect(loop).rejects.toBeInstanceOf(CancelationError);
    expect(await stepsRun(module)).toBeLessThan(LONG);
    token.release();
  });

  it('obeys the running prediction’s token without being told (this.scope)', async () => {
    const module = await fresh();
    const token = new CancelToken();
    const scope = new PredictionScope({ cancelToken: token });
    const loop = runInScope(scope, () => module.runSteps({ method: 'count_step', steps: LONG, inputs: [input()], withStepIndex: true }));
    setTimeout(() => scope.cancel(), 50);
    await expect(loop).rejects.toThrow(CancelationError);
    expect(await stepsRun(module)).toBeLessThan(LONG);
    token.release();
  });

  it('stops on an AbortSignal, and refuses to start on an aborted one', async () => {
    const module = await fresh();
    const controller = new AbortController();
    const loop = module.runSteps({
      method: 'count_step',
      steps: LONG,
      inputs: [input()],
      withStepIndex: true,
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 50);
    await expect(loop).rejects.toBeInstanceOf(CancelationError);
    expect(await stepsRun(module)).toBeLessThan(LONG);
    await expect(module.withCancel({ signal: controller.signal }).forward(input(), input())).rejects.toBeInstanceOf(CancelationError);
  });

  it('skips module calls queued for a prediction that was cancelled meanwhile', async () => {
    const module = await fresh();
    const blocker = new CancelToken();
    const token = new CancelToken();
    const busy = module.runSteps({ method: 'count_step', steps: LONG, inputs: [input()], withStepIndex: true, cancelToken: blocker });
    const queued = module.withCancel({ cancelToken: token }).call('count_step', input(), 0);
    // The queued call waits behind the loop; its token is checked when its turn comes.
    token.cancel();
    blocker.cancel();
    await expect(busy).rejects.toBeInstanceOf(CancelationError);
    await expect(queued).rejects.toBeInstanceOf(CancelationError);
    // Only the busy loop's steps ran: the queued call never started.
    const before = await stepsRun(module);
    expect(expectTensor(await module.withCancel({ cancelToken: null }).call('count_step', input(), 0)).shape).toEqual([1, 256]);
    expect(await stepsRun(module)).toBe(before + 1);
    blocker.release();
    token.release();
  });

  it('rejects a token id that does not exist', async () => {
    const module = await fresh();
    await expect(module.withCancel({ cancelToken: { id: 987654 } }).forward(input(), input())).rejects.toThrow(
      'cancelToken: no cancel token with id 987654',
    );
  });
});
