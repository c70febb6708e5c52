// readSafetensors (core addon, no libtorch): typed-array views over the mapped file, checked
// against what Python's safetensors wrote; bad files give errors, never a crash.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readSafetensors } from '../src/native/safetensors.js';
import { expectedDtypes, makeTorchFixtures, type ExpectedTensor, misalignedSafetensors, repoRoot } from './helpers/torch.js';

let dir: string;
let expected: Record<string, ExpectedTensor>;

beforeAll(() => {
  dir = makeTorchFixtures();
  expected = expectedDtypes(dir);
});

const SAFETENSORS_DTYPE: Record<string, [string, string]> = {
  float32: ['F32', 'Float32Array'],
  float64: ['F64', 'Float64Array'],
  float16: ['F16', 'Uint16Array'],
  bfloat16: ['BF16', 'Uint16Array'],
  int64: ['I64', 'BigInt64Array'],
  int32: ['I32', 'Int32Array'],
  int16: ['I16', 'Int16Array'],
  int8: ['I8', 'Int8Array'],
  uint8: ['U8', 'Uint8Array'],
  bool: ['BOOL', 'Uint8Array'],
};

/** IEEE half and bfloat16 bits to numbers, to compare the raw views with Python's values. */
function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}
const bf16ToNumber = (bits: number) => new Float32Array(new Uint32Array([bits << 16]).buffer)[0]!;

describe('readSafetensors', () => {
  it('gives every tensor as a zero-copy view with the values Python wrote', () => {
    const file = readSafetensors(join(dir, 'dtypes.safetensors'));
    expect(file.metadata).toEqual({ format: 'pt', source: 'cog-node tests' });
    expect(Object.keys(file.tensors).sort()).toEqual(Object.keys(expected).sort());
    for (const [name, want] of Object.entries(expected)) {
      const view = file.tensors[name]!;
      const [dtype, arrayType] = SAFETENSORS_DTYPE[want.dtype]!;
      expect([name, view.dtype, view.data.constructor.name]).toEqual([name, dtype, arrayType]);
      expect(view.shape).toEqual(want.shape);
      expect(view.zeroCopy).toBe(true);
      const raw = Array.from(view.data as ArrayLike<number | bigint>);
      const values =
        dtype === 'F16'
          ? raw.map((b) => halfToNumber(Number(b)))
          : dtype === 'BF16'
            ? raw.map((b) => bf16ToNumber(Number(b)))
            : raw.map(Number);
      expect(values).toEqual(want.values);
    }
  });

  it('shares one mapping among the views, in file order', () => {
    const { tensors } = readSafetensors(join(dir, 'dtypes.safetensors'));
    const views = Object.values(tensors);
    const buffer = views[0]!.data.buffer;
    for (const view of views) expect(view.data.buffer).toBe(buffer);
    const offsets = views.map((v) => v.data.byteOffset);
    expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    expect(buffer.byteLength).toBe(readFileSync(join(dir, 'dtypes.safetensors')).length);
  });

  it('lets JavaScript write into a view without changing the file', () => {
    const path = join(dir, 'dtypes.safetensors');
    const before = readFileSync(path);
    const view = readSafetensors(path).tensors.f32!.data as Float32Array;
    view[0] = 1234;
    expect(view[0]).toBe(1234);
    expect(readFileSync(path).equals(before)).toBe(true);
    expect((readSafetensors(path).tensors.f32!.data as Float32Array)[0]).toBe(1.5);
  });

  it('copies a tensor that is not aligned in the file, and says so', () => {
    const path = join(dir, 'misaligned.safetensors');
    misalignedSafetensors(path);
    const { a, b } = readSafetensors(path).tensors;
    expect([Array.from(a!.data as Uint8Array), a!.zeroCopy]).toEqual([[1, 2, 3], true]);
    expect([Array.from(b!.data as Float32Array), b!.zeroCopy]).toEqual([[1.5, -2], false]);
  });

  it('keeps the mapping alive while a view is referenced, and frees it after', () => {
    // A child with --expose-gc: drop everything but one view, collect, read it; then drop it.
    const script = `
      import { readSafetensors } from ${JSON.stringify(join(repoRoot, 'src', 'native', 'safetensors.ts'))};
      let view = readSafetensors(process.argv[1]).tensors.f32.data;
      for (let i = 0; i < 5; i++) { readSafetensors(process.argv[1]); globalThis.gc(); await new Promise((r) => setTimeout(r, 10)); }
      const kept = Array.from(view);
      view = null; globalThis.gc(); await new Promise((r) => setTimeout(r, 10)); globalThis.gc();
      console.log(JSON.stringify(kept));`;
    const out = execFileSync(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', script, join(dir, 'dtypes.safetensors')],
      { cwd: repoRoot, encoding: 'utf8' },
    );
    expect(JSON.parse(out)).toEqual(expected.f32!.values);
  });

  describe('bad files', () => {
    const bytes = () => readFileSync(join(dir, 'dtypes.safetensors'));
    const write = (name: string, data: Uint8Array) => {
      const path = join(dir, name);
      writeFileSync(path, data);
      return path;
    };
    const headerLength = () => Number(bytes().readBigUInt64LE(0));

    it('a missing file names the path', () => {
      expect(() => readSafetensors(join(dir, 'nope.safetensors'))).toThrow(
        `cannot read safetensors file ${join(dir, 'nope.safetensors')}: No such file or directory`,
      );
    });

    it('a truncated file', () => {
      const good = bytes();
      expect(() => readSafetensors(write('cut-data.safetensors', good.subarray(0, good.length - 3)))).toThrow(
        /cut-data.safetensors is not a valid safetensors file: the tensors' data does not end where the file ends/,
      );
      expect(() => readSafetensors(write('cut-header.safetensors', good.subarray(0, 40)))).toThrow(
        /cut-header.safetensors is not a valid safetensors file: the header claims \d+ bytes but the file has only 32/,
      );
      expect(() => readSafetensors(write('tiny.safetensors', good.subarray(0, 3)))).toThrow(
        'the file has 3 bytes, fewer than the 8-byte header length',
      );
    });

    it('a bad header or an unknown dtype', () => {
      const good = bytes();
      const notJson = Buffer.from(good);
      notJson.write('!', 8);
      expect(() => readSafetensors(write('not-json.safetensors', notJson))).toThrow(
        'not-json.safetensors is not a valid safetensors file: the header is not valid safetensors JSON',
      );
      const header = good.subarray(8, 8 + headerLength()).toString();
      const badDtype = Buffer.from(good);
      badDtype.write(header.replace('"F32"', '"Q32"'), 8);
      expect(() => readSafetensors(write('bad-dtype.safetensors', badDtype))).toThrow(
        /bad-dtype.safetensors is not a valid safetensors file: the header is not valid safetensors JSON \(unknown variant `Q32`/,
      );
      const wrongSize = Buffer.from(good);
      wrongSize.write(header.replace('"shape":[2,2]', '"shape":[2,3]'), 8);
      expect(() => readSafetensors(write('wrong-size.safetensors', wrongSize))).toThrow(
        "a tensor's byte range does not match its shape and dtype",
      );
      expect(() => readSafetensors(write('huge.safetensors', Buffer.alloc(16, 0xff)))).toThrow('more than the 100 MB limit');
    });
  });
});
