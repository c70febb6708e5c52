// A package installed without its native addon (npm's --omit=optional, a lockfile from another
// platform): a clear error naming the package to install, not napi's "npm has a bug".
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { cli } from './helpers/cli.js';
import { copyPackage } from './helpers/package-copy.js';

const run = promisify(execFile);
const version = (await import('../package.json', { with: { type: 'json' } })).default.version;

describe('an installed cog-node without an addon', () => {
  const copy = copyPackage(join(mkdtempSync(join(tmpdir(), 'cog-node-no-addon-')), 'cog-node'), { addon: false });

  it('names the per-platform package to install and the command that builds it', async () => {
    const result = await cli(['--version'], { cwd: tmpdir(), bin: join(copy, 'bin/cog-node.js') });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('cog-node: cog-node cannot find its native addon for this platform');
    // The native package of this platform, not the WebAssembly fallback the loader also tries.
    expect(result.stderr).toMatch(
      new RegExp(`npm install cog-node-${process.platform}-${process.arch}[a-z0-9-]*@${version.replace(/\./g, '\\.')}`),
    );
    expect(result.stderr).not.toContain('npm install cog-node-wasm32-wasi');
    expect(result.stderr).toContain('npm run build:native');
    expect(result.stderr).not.toContain('npm has a bug');
    expect(result.stderr).not.toMatch(/^\s+at /m);
  });

  it('cog-node/torch without the cog-node-torch package says to install it', async () => {
    const withAddon = copyPackage(join(mkdtempSync(join(tmpdir(), 'cog-node-no-torch-')), 'cog-node'));
    const script = `import(${JSON.stringify(join(withAddon, 'dist/torch/index.js'))}).then(
      () => console.log('loaded'), (e) => { console.error(e.name + ': ' + e.message); process.exit(3); });`;
    const failure = await run(process.execPath, ['-e', script], { cwd: tmpdir() }).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure.code).toBe(3);
    expect(failure.stderr).toContain('NativeAddonNotFoundError: cog-node/torch needs the cog-node-torch package');
    expect(failure.stderr).toContain(`npm install cog-node-torch@${version}`);
    expect(failure.stderr).toContain('npm run build:torch');
  });
});
