// loadSafetensors (torch addon): a file straight into tensors, values as Python wrote them.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadSafetensors } from '../src/torch/index.js';
import { expectedDtypes, makeTorchFixtures, type ExpectedTensor, misalignedSafetensors, numbers } from './helpers/torch.js';

let dir: string;
let expected: Record<string, ExpectedTensor>;

beforeAll(() => {
  dir = makeTorchFixtures();
  expected = expectedDtypes(dir);
});

describe('loadSafetensors', () => {
  it('loads every dtype onto the CPU with Python’s dtype, shape and values, in file order', async () => {
    const tensors = await loadSafetensors(join(dir, 'dtypes.safetensors'), { device: 'cpu' });
    const order = Object.keys(tensors);
    expect([...order].sort()).toEqual(Object.keys(expected).sort());
    for (const [name, want] of Object.entries(expected)) {
      const tensor = tensors[name]!;
      expect([name, tensor.dtype, tensor.device]).toEqual([name, want.dtype, 'cpu']);
      expect(tensor.shape).toEqual(want.shape);
      expect(numbers(tensor)).toEqual(want.values);
    }
  });

  it('reads the same values eagerly with copy: true', async () => {
    const mapped = await loadSafetensors(join(dir, 'dtypes.safetensors'));
    const copied = await loadSafetensors(join(dir, 'dtypes.safetensors'), { copy: true });
    expect(Object.keys(copied)).toEqual(Object.keys(mapped));
    for (const [name, tensor] of Object.entries(copied)) {
      expect([name, tensor.dtype, tensor.shape]).toEqual([name, mapped[name]!.dtype, mapped[name]!.shape]);
      expect(numbers(tensor)).toEqual(expected[name]!.values);
    }
  });

  it('loads a tensor that is not aligned in the file', async () => {
    const path = join(dir, 'misaligned.safetensors');
    misalignedSafetensors(path);
    for (const copy of [false, true]) {
      const { a, b } = await loadSafetensors(path, { copy });
      expect(numbers(a!)).toEqual([1, 2, 3]);
      expect([b!.dtype, numbers(b!)]).toEqual(['float32', [1.5, -2]]);
    }
  });

  it('keeps mapped tensors usable after the rest of the file’s tensors are gone', async () => {
    const { f32 } = await loadSafetensors(join(dir, 'dtypes.safetensors'));
    for (let i = 0; i < 3; i++) await loadSafetensors(join(dir, 'dtypes.safetensors'));
    expect(numbers(f32!)).toEqual(expected.f32!.values);
  });

  it('rejects dtypes libtorch cannot hold, naming the tensor', async () => {
    await expect(loadSafetensors(join(dir, 'u16.safetensors'))).rejects.toThrow(
      `${join(dir, 'u16.safetensors')}: tensor \`u16\` has dtype U16, which libtorch cannot hold`,
    );
  });

  it('rejects truncated and malformed files with the problem', async () => {
    const good = readFileSync(join(dir, 'dtypes.safetensors'));
    const cut = join(dir, 'cut.safetensors');
    writeFileSync(cut, good.subarray(0, good.length - 1));
    await expect(loadSafetensors(cut)).rejects.toThrow(
      `${cut} is not a valid safetensors file: the tensors' data does not end where the file ends`,
    );
    const garbage = join(dir, 'garbage.safetensors');
    writeFileSync(garbage, Buffer.from('this is not a safetensors file at all'));
    await expect(loadSafetensors(garbage)).rejects.toThrow(`${garbage} is not a valid safetensors file`);
    await expect(loadSafetensors(join(dir, 'missing.safetensors'))).rejects.toThrow('No such file or directory');
    await expect(loadSafetensors(join(dir, 'dtypes.safetensors'), { device: 'gpu' as 'cpu' })).rejects.toThrow(
      'device: expected "cpu", "cuda" or "cuda:N"',
    );
  });
});
