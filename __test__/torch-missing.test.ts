// Importing cog-node/torch where there is no libtorch: a clear error that says what to install.
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './helpers/torch.js';

const run = promisify(execFile);

/** Imports src/torch in a child process with `env`; returns what it printed and its exit code. */
async function importTorch(env: Record<string, string>): Promise<{ code: number; stderr: string; stdout: string }> {
  const script = `import(${JSON.stringify(join(repoRoot, 'src', 'torch', 'index.ts'))}).then(
    (t) => console.log('loaded from ' + t.libtorch.source),
    (e) => { console.error(e.name + ': ' + e.message); process.exit(3); });`;
  const base = { ...process.env };
  delete base.LIBTORCH;
  delete base.VIRTUAL_ENV;
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', '-e', script], {
      cwd: repoRoot,
      env: { ...base, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('without libtorch', () => {
  const empty = mkdtempSync(join(tmpdir(), 'cog-node-no-torch-'));

  it('fails to import with what was tried and exactly what to install', async () => {
    // A Python without torch, and no install-libtorch.sh venv.
    const { code, stderr } = await importTorch({ COG_NODE_PYTHON: join(empty, 'no-python'), COG_NODE_TORCH_VENV: empty });
    expect(code).toBe(3);
    expect(stderr).toContain('LibtorchNotFoundError: cog-node/torch needs libtorch 2.11.0 and found none');
    expect(stderr).toContain(`${join(empty, 'no-python')}: not found`);
    expect(stderr).toContain('pip install torch==2.11.0');
    expect(stderr).toContain('set LIBTORCH=/path/to/libtorch');
  });

  it('says when a Python has no torch package', async () => {
    const { code, stderr } = await importTorch({ COG_NODE_PYTHON: 'python3', PATH: '/usr/bin:/bin' });
    expect(code).toBe(3);
    expect(stderr).toContain('python3: has no torch package');
  });

  it('says when LIBTORCH points at something that is not libtorch', async () => {
    const { code, stderr } = await importTorch({ LIBTORCH: empty });
    expect(code).toBe(3);
    expect(stderr).toContain(`cog-node/torch cannot use LIBTORCH: LIBTORCH: no lib/libtorch.so in ${empty}`);
  });

  it('loads from LIBTORCH when it points at a torch install', async () => {
    const torchDir = (await importTorch({})).stdout;
    expect(torchDir).toMatch(/^loaded from /);
    const python = torchDir.replace('loaded from ', '').trim();
    const { stdout: dir } = await run(python, ['-c', 'import importlib.util as u; print(u.find_spec("torch").submodule_search_locations[0])'], { cwd: tmpdir() });
    const { code, stdout } = await importTorch({ LIBTORCH: dir.trim(), COG_NODE_PYTHON: join(empty, 'no-python') });
    expect(code).toBe(0);
    expect(stdout.trim()).toBe('loaded from LIBTORCH');
  });
});
