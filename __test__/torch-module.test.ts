// TorchScript through cog-node/torch on the CPU: loading, calling methods with every kind of
// input and output, libtorch's errors as JS errors, devices and the thread count.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  Tensor,
  cuda,
  expectTensor,
  getNumThreads,
  loadSafetensors,
  loadTorchScript,
  setNumThreads,
  type TorchScriptModule,
} from '../src/torch/index.js';
import { makeTorchFixtures, numbers } from './helpers/torch.js';

let dir: string;
let multi: TorchScriptModule;
const f32 = (values: number[], shape = [values.length]) => Tensor.fromTypedArray(new Float32Array(values), shape);

beforeAll(async () => {
  dir = makeTorchFixtures();
  multi = await loadTorchScript(join(dir, 'multi.pt'));
});

describe('loadTorchScript', () => {
  it('runs a traced MLP to the same output as Python torch', async () => {
    const mlp = await loadTorchScript(join(dir, 'mlp.pt'), { device: 'cpu' });
    expect(mlp.device).toBe('cpu');
    expect(mlp.path).toBe(join(dir, 'mlp.pt'));
    const { x, y } = await loadSafetensors(join(dir, 'mlp_io.safetensors'));
    const out = expectTensor(await mlp.forward(x!));
    expect(out.shape).toEqual([5, 3]);
    expect(out.dtype).toBe('float32');
    expect(numbers(out)).toEqual(numbers(y!));
  });

  it('rejects a missing file and a file that is not TorchScript with libtorch’s reason', async () => {
    await expect(loadTorchScript(join(dir, 'missing.pt'))).rejects.toThrow(
      `cannot load TorchScript module ${join(dir, 'missing.pt')}: open file failed`,
    );
    await expect(loadTorchScript(join(dir, 'dtypes.json'))).rejects.toThrow(/PytorchStreamReader failed/);
  });

  it('rejects a device name it does not know, naming the rule', async () => {
    await expect(loadTorchScript(join(dir, 'mlp.pt'), { device: 'gpu' as 'cpu' })).rejects.toThrow(
      'device: expected "cpu", "cuda" or "cuda:N"',
    );
  });
});

describe('calling methods', () => {
  it('returns tuples as arrays of tensors', async () => {
    const [sum, product] = (await multi.forward(f32([1, 2]), f32([3, 4]))) as Tensor[];
    expect(numbers(sum!)).toEqual([4, 6]);
    expect(numbers(product!)).toEqual([3, 8]);
  });

  it('passes floats, ints, bools, strings and lists, and returns dicts and scalars', async () => {
    expect(numbers(expectTensor(await multi.call('scale', f32([1, 2]), 2.5, 3)))).toEqual([5.5, 8]);
    expect(await multi.call('total', [1, 2, 3], true, 'abc')).toBe(10);
    expect(numbers(expectTensor(await multi.call('concat', [f32([1]), f32([2, 3])])))).toEqual([1, 2, 3]);
    const stats = (await multi.call('stats', f32([1, 5, 2]))) as Record<string, Tensor>;
    expect(Object.keys(stats).sort()).toEqual(['max', 'sum']);
    expect(numbers(stats.sum!)).toEqual([8]);
    expect(numbers(stats.max!)).toEqual([5]);
  });

  it('runs with gradients off', async () => {
    expect(await multi.call('grad_enabled')).toBe(false);
  });

  it('turns libtorch errors into JS errors with libtorch’s message', async () => {
    await expect(multi.call('nope')).rejects.toThrow("Method 'nope' is not defined.");
    await expect(multi.call('scale', f32([1]), 'x', 3)).rejects.toThrow(
      "Expected a value of type 'float' for argument 'k' but instead found type 'str'",
    );
    const mlp = await loadTorchScript(join(dir, 'mlp.pt'));
    await expect(mlp.forward(f32([1, 2, 3], [1, 3]))).rejects.toThrow(/mat1 and mat2 shapes cannot be multiplied/);
    // The inference thread is still healthy afterwards.
    expect(expectTensor(await multi.call('add_one', f32([1]))).toTypedArray()[0]).toBe(2);
  });

  it('rejects inputs that have no TorchScript value', async () => {
    await expect(multi.call('echo', new Float32Array(2) as unknown as Tensor)).rejects.toThrow(
      'a typed array is not a tensor; wrap it with Tensor.fromTypedArray',
    );
  });

  it('runs a multi-step loop in Rust, feeding each output to the next step', async () => {
    const out = expectTensor(await multi.runSteps({ method: 'add_one', steps: 5, inputs: [f32([1, 2])] }));
    expect(numbers(out)).toEqual([6, 7]);
    await expect(multi.runSteps({ steps: -1, inputs: [] })).rejects.toThrow('steps: expected an integer >= 0');
  });
});

describe('devices and threads', () => {
  const python = () => JSON.parse(readFileSync(join(dir, 'machine.json'), 'utf8')) as { cuda_available: boolean; cuda_devices: number };

  it('sees the CUDA devices that Python torch sees', () => {
    expect(cuda.isAvailable()).toBe(python().cuda_available);
    expect(cuda.deviceCount()).toBe(python().cuda_devices);
  });

  it('loads onto cuda where there is one, and otherwise says why not', async () => {
    const load = loadTorchScript(join(dir, 'mlp.pt'), { device: 'cuda' });
    if (python().cuda_available) {
      expect((await load).device).toBe('cuda:0');
    } else {
      await expect(load).rejects.toThrow(/CUDA|NVIDIA|cuda/);
      expect(() => f32([1]).to('cuda:0')).toThrow(/NVIDIA driver|CUDA/);
    }
  });

  it('sets the intra-op thread count of the inference thread', async () => {
    setNumThreads(1);
    expect(getNumThreads()).toBe(1);
    expect(expectTensor(await multi.call('add_one', f32([1]))).toTypedArray()[0]).toBe(2);
    setNumThreads(2);
    expect(getNumThreads()).toBe(2);
    expect(() => setNumThreads(0)).toThrow('threads: expected 1 to 1024, got 0');
  });
});
