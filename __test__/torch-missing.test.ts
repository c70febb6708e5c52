// Importing cog-node/torch where there is no libtorch, or no binary for this platform: a clear error
// that says what to install; and the addon loading from its npm packages.
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { copyPackage } from './helpers/package-copy.js';
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

  // Two child processes that each load libtorch (~1 GB of shared objects): slower than 30 s once
  // in a loaded CI run, so it has its own bound.
  it('loads from LIBTORCH when it points at a torch install', { timeout: 120_000 }, async () => {
    const torchDir = (await importTorch({})).stdout;
    expect(torchDir).toMatch(/^loaded from /);
    const python = torchDir.replace('loaded from ', '').trim();
    const { stdout: dir } = await run(
      python,
      ['-c', 'import importlib.util as u; print(u.find_spec("torch").submodule_search_locations[0])'],
      { cwd: tmpdir() },
    );
    const { code, stdout } = await importTorch({ LIBTORCH: dir.trim(), COG_NODE_PYTHON: join(empty, 'no-python') });
    expect(code).toBe(0);
    expect(stdout.trim()).toBe('loaded from LIBTORCH');
  });
});

describe('cog-node-torch installed from npm', () => {
  // node_modules/cog-node (a copy of the package), node_modules/cog-node-torch (torch/'s loader
  // and manifest) and, when given, the platform package with the binary built here.
  function installLayout(withBinary: boolean): string {
    const modules = join(mkdtempSync(join(tmpdir(), 'cog-node-torch-layout-')), 'node_modules');
    copyPackage(join(modules, 'cog-node'));
    mkdirSync(join(modules, 'cog-node-torch'));
    for (const file of ['index.js', 'index.d.ts', 'package.json'])
      cpSync(join(repoRoot, 'torch', file), join(modules, 'cog-node-torch', file));
    if (withBinary) {
      const platform = readdirSync(join(repoRoot, 'torch', 'npm')).find((dir) =>
        existsSync(join(repoRoot, 'torch', `cog-node-torch.${dir}.node`)),
      );
      if (platform === undefined) throw new Error('the torch addon is not built here: npm run build:torch');
      const target = join(modules, `cog-node-torch-${platform}`);
      mkdirSync(target);
      cpSync(join(repoRoot, 'torch', 'npm', platform, 'package.json'), join(target, 'package.json'));
      cpSync(join(repoRoot, 'torch', `cog-node-torch.${platform}.node`), join(target, `cog-node-torch.${platform}.node`));
    }
    return join(modules, 'cog-node', 'dist', 'torch', 'index.js');
  }

  const importFrom = async (entry: string) => {
    const script = `import(${JSON.stringify(entry)}).then((t) => console.log('loaded ' + typeof t.Tensor), (e) => { console.error(e.name + ': ' + e.message); process.exit(3); });`;
    return run(process.execPath, ['-e', script], { cwd: tmpdir() }).then(
      ({ stdout }) => ({ code: 0, stdout, stderr: '' }),
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
  };

  it('loads the binary from its per-platform package', async () => {
    const result = await importFrom(installLayout(true));
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('loaded function');
  });

  it('without the per-platform package, names it', async () => {
    const result = await importFrom(installLayout(false));
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(
      /NativeAddonNotFoundError: cog-node\/torch cannot find its native addon for this platform, the package cog-node-torch-linux-x64-gnu\./,
    );
    expect(result.stderr).toMatch(/npm install cog-node-torch-linux-x64-gnu@\d+\.\d+\.\d+/);
    expect(result.stderr).not.toContain('npm has a bug');
  });
});
