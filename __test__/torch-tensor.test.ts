// Tensors made from and read back into typed arrays, for every dtype a typed array can carry.
import { describe, expect, it } from 'vitest';
import { Tensor } from '../src/torch/index.js';
import { numbers } from './helpers/torch.js';

describe('Tensor', () => {
  const cases: [string, ArrayLike<number | bigint> & { constructor: { name: string } }, string][] = [
    ['float32', new Float32Array([1.5, -2, 3.25, 0]), 'Float32Array'],
    ['float64', new Float64Array([1e-300, 2, 3, 4]), 'Float64Array'],
    ['int8', new Int8Array([-128, 0, 1, 127]), 'Int8Array'],
    ['uint8', new Uint8Array([0, 1, 128, 255]), 'Uint8Array'],
    ['int16', new Int16Array([-32768, 0, 1, 32767]), 'Int16Array'],
    ['int32', new Int32Array([-(2 ** 31), 0, 1, 2 ** 31 - 1]), 'Int32Array'],
    ['int64', new BigInt64Array([-(2n ** 63n), 0n, 1n, 2n ** 63n - 1n]), 'BigInt64Array'],
  ];

  it.each(cases)('round-trips %s with its shape', (dtype, data, arrayType) => {
    const tensor = Tensor.fromTypedArray(data as Float32Array, [2, 2]);
    expect(tensor.dtype).toBe(dtype);
    expect(tensor.shape).toEqual([2, 2]);
    expect(tensor.device).toBe('cpu');
    const back = tensor.toTypedArray();
    expect(back.constructor.name).toBe(arrayType);
    expect(Array.from(back as ArrayLike<number>)).toEqual(Array.from(data as ArrayLike<number>));
  });

  it('copies: changing the source array later does not change the tensor', () => {
    const data = new Float32Array([1, 2]);
    const tensor = Tensor.fromTypedArray(data, [2]);
    data[0] = 99;
    expect(numbers(tensor)).toEqual([1, 2]);
  });

  it('reads the same bytes as bool, float16 or bfloat16 when asked, returning floats widened', () => {
    const flags = Tensor.fromTypedArray(new Uint8Array([1, 0, 1]), [3], 'bool');
    expect(flags.dtype).toBe('bool');
    expect(numbers(flags)).toEqual([1, 0, 1]);
    // 0x3c00 is 1.0 in IEEE half, 0x3f80 is 1.0 in bfloat16.
    const half = Tensor.fromTypedArray(new Uint16Array([0x3c00, 0xc000]), [2], 'float16');
    expect(half.dtype).toBe('float16');
    expect(numbers(half)).toEqual([1, -2]);
    const brain = Tensor.fromTypedArray(new Uint16Array([0x3f80]), [1], 'bfloat16');
    expect(numbers(brain)).toEqual([1]);
  });

  it('takes scalars and empty tensors', () => {
    expect(Tensor.fromTypedArray(new Float32Array([7]), []).shape).toEqual([]);
    const empty = Tensor.fromTypedArray(new Float32Array([]), [0, 3]);
    expect(empty.shape).toEqual([0, 3]);
    expect(empty.toTypedArray().length).toBe(0);
  });

  it('names the field and the rule for bad data, shapes and dtypes', () => {
    expect(() => Tensor.fromTypedArray(new Float32Array(5), [2, 3])).toThrow('shape: [2, 3] holds 6 elements but the data has 5');
    expect(() => Tensor.fromTypedArray(new Float32Array(1), [-1])).toThrow('shape: dimensions must be >= 0');
    expect(() => Tensor.fromTypedArray(new Float32Array(2), [2], 'float16')).toThrow(
      'dtype: float16 has 2-byte elements but the data is a Float32Array (4-byte elements)',
    );
    expect(() => Tensor.fromTypedArray(new Float32Array(2), [2], 'float')).toThrow('dtype: expected one of');
    expect(() => Tensor.fromTypedArray(new Uint32Array(2) as unknown as Int32Array, [2])).toThrow(
      'data: libtorch has no unsigned 32-bit type for a Uint32Array',
    );
    expect(() => Tensor.fromTypedArray([1, 2] as unknown as Float32Array, [2])).toThrow('data: expected a typed array');
  });

  it('moves between devices by name', () => {
    const tensor = Tensor.fromTypedArray(new Float32Array([1]), [1]);
    expect(tensor.to('cpu').device).toBe('cpu');
    expect(() => tensor.to('tpu')).toThrow('device: expected "cpu", "cuda" or "cuda:N"');
    expect(String(tensor)).toBe('Tensor([1], float32, cpu)');
  });
});
