// The Python that has torch (the one scripts/install-libtorch.sh set up, unless COG_NODE_PYTHON
// says otherwise), and the models and files it makes for the torch tests.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

export const repoRoot = join(import.meta.dirname, '..', '..');

export function torchPython(): string {
  return (
    process.env.COG_NODE_PYTHON ??
    join(process.env.COG_NODE_TORCH_VENV ?? join(homedir(), '.cache', 'cog-node', 'torch'), 'bin', 'python')
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
