// The Python that has torch (the one scripts/install-libtorch.sh set up, unless COG_NODE_PYTHON
// says otherwise), and the models and files it makes for the torch tests.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

export const repoRoot = join(import.meta.dirname, '..', '..');

export function torchPython(): string {
  return (
    process.env.COG_NODE_PYTHON ?? join(process.env.COG_NODE_TORCH_VENV ?? join(homedir(), '.cache', 'cog-node', 'torch'), 'bin', 'python')
  );
}

/** Runs a Python script with torch; returns its stdout. */
export function runPython(script: string, args: string[], timeout = 180_000): string {
  return execFileSync(torchPython(), [script, ...args], { cwd: tmpdir(), encoding: 'utf8', timeout });
}

/** A fresh directory with mlp.pt, multi.pt, dtypes.safetensors (+ .json), ... made by Python. */
export function makeTorchFixtures(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cog-node-torch-'));
  runPython(join(repoRoot, '__test__', 'fixtures', 'make_torch_models.py'), [dir]);
  return dir;
}

/** A tensor of `dtypes.safetensors` as Python described it in `dtypes.json`. */
export interface ExpectedTensor {
  dtype: string;
  shape: number[];
  values: number[];
}

/** What Python wrote into the fixtures' `dtypes.safetensors`, by tensor name. */
export function expectedDtypes(dir: string): Record<string, ExpectedTensor> {
  return JSON.parse(readFileSync(join(dir, 'dtypes.json'), 'utf8')) as Record<string, ExpectedTensor>;
}

/** A tensor's elements as plain numbers (bigints converted). */
export function numbers(tensor: { toTypedArray(): ArrayLike<number> | ArrayLike<bigint> }): number[] {
  return Array.from(tensor.toTypedArray() as ArrayLike<number | bigint>, Number);
}

/**
 * A safetensors file whose F32 tensor `b` starts at byte 3 of the data (after a 3-byte U8
 * tensor `a`), which no aligned writer produces: `a` = [1, 2, 3], `b` = [1.5, -2].
 */
export function misalignedSafetensors(path: string): void {
  const header = JSON.stringify({
    a: { dtype: 'U8', shape: [3], data_offsets: [0, 3] },
    b: { dtype: 'F32', shape: [2], data_offsets: [3, 11] },
  }).padEnd(80, ' ');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.length));
  const data = Buffer.alloc(11);
  data.set([1, 2, 3]);
  data.writeFloatLE(1.5, 3);
  data.writeFloatLE(-2, 7);
  writeFileSync(path, Buffer.concat([length, Buffer.from(header), data]));
}
