// The CLI in a real project: init merging into an existing package.json, predict keeping stdout
// for the output alone, and one cog-node per process when the project has its own copy.
import { readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, cli, project } from './helpers/cli.js';
import { copyPackage } from './helpers/package-copy.js';

const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

describe('cog-node init in an existing project', () => {
  const manifest = {
    name: 'my-app',
    version: '3.1.0',
    type: 'module',
    scripts: { test: 'vitest', predict: 'node scripts/predict-sales.js' },
    dependencies: { express: '^5.0.0' },
  };
  const tsconfig = '{ "compilerOptions": { "strict": false } }\n';

  it('adds cog.yaml and predict.ts, merges package.json without clobbering, keeps tsconfig.json; then predicts', async () => {
    const dir = project({ 'package.json': JSON.stringify(manifest, null, 4), 'tsconfig.json': tsconfig });
    const init = await cli(['init'], { cwd: dir });
    expect(init.stderr).toBe('');
    expect(init.code).toBe(0);
    const text = readFileSync(join(dir, 'package.json'), 'utf8');
    expect(text).toMatch(/^ {4}"name": "my-app",$/m); // its indentation kept
    expect(JSON.parse(text)).toEqual({
      ...manifest,
      scripts: {
        test: 'vitest',
        predict: 'node scripts/predict-sales.js',
        'cog:predict': 'cog-node predict',
        serve: 'cog-node serve',
        schema: 'cog-node schema',
      },
      dependencies: { express: '^5.0.0', 'cog-node': `^${version}` },
    });
    expect(readFileSync(join(dir, 'tsconfig.json'), 'utf8')).toBe(tsconfig);
    expect(init.stdout).toContain('Kept your tsconfig.json');
    expect(readFileSync(join(dir, 'cog.yaml'), 'utf8')).toContain('# yaml-language-server: $schema=node_modules/cog-node/cog.schema.json');

    const run = await cli(['predict', '-i', 'prompt=hello', '-i', 'times=2'], { cwd: dir });
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('HELLO HELLO\n');
  });

  it('refuses only to overwrite cog.yaml and predict.ts, naming them and --force; --force adds nothing twice', async () => {
    const dir = project({ 'package.json': JSON.stringify(manifest), 'predict.ts': '// mine\n' });
    const refused = await cli(['init'], { cwd: dir });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('predict.ts already exists here; use --force to overwrite it');
    expect(readFileSync(join(dir, 'predict.ts'), 'utf8')).toBe('// mine\n');
    expect(readFileSync(join(dir, 'package.json'), 'utf8')).toBe(JSON.stringify(manifest));

    expect((await cli(['init', '--force'], { cwd: dir })).code).toBe(0);
    const merged = readFileSync(join(dir, 'package.json'), 'utf8');
    const again = await cli(['init', '--force'], { cwd: dir });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('package.json already has what cog-node needs');
    expect(readFileSync(join(dir, 'package.json'), 'utf8')).toBe(merged);
  });

  it('says which file is broken when package.json is not JSON', async () => {
    const dir = project({ 'package.json': '{ "name": ' });
    const init = await cli(['init'], { cwd: dir });
    expect(init.code).toBe(2);
    expect(init.stderr).toContain('package.json is not valid JSON');
    expect(readFileSync(join(dir, 'package.json'), 'utf8')).toBe('{ "name": ');
  });
});

describe('cog-node predict keeps stdout for the output', () => {
  const dir = project({
    'cog.yaml': 'predict: "predict.ts:Predictor"\n',
    'predict.ts': `import { BasePredictor, Input, Type, type Inputs } from 'cog-node';
console.log('log: module loaded');
export class Predictor extends BasePredictor {
  static inputs = { n: Input(Type.Integer(), { default: 2 }) };
  static output = Type.Object({ n: Type.Integer(), squares: Type.Array(Type.Integer()) });
  async setup() { console.log('log: setup'); }
  async predict({ n }: Inputs<typeof Predictor>) {
    console.log('log: predicting', n);
    process.stdout.write('log: raw write\\n');
    console.error('log: to stderr');
    return { n, squares: Array.from({ length: n }, (_, i) => i * i) };
  }
}
`,
  });

  it('prints only the output on stdout; every log on stderr', async () => {
    const run = await cli(['predict', '-i', 'n=3'], { cwd: dir });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ n: 3, squares: [0, 1, 4] });
    for (const line of ['log: module loaded', 'log: setup', 'log: predicting 3', 'log: raw write', 'log: to stderr'])
      expect(run.stderr).toContain(line);
  });

  it('--json prints only the prediction on stdout, its logs inside it', async () => {
    const run = await cli(['predict', '--json', '{"n": 1}'], { cwd: dir });
    expect(run.code).toBe(0);
    const prediction = JSON.parse(run.stdout) as { output: unknown; logs: string; status: string };
    expect(prediction.status).toBe('succeeded');
    expect(prediction.output).toEqual({ n: 1, squares: [0] });
    expect(prediction.logs).toContain('log: predicting 1');
    expect(run.stderr).toContain('log: predicting 1');
  });
});

describe('one cog-node per process', () => {
  // A predictor whose prediction reads its Rust cancel token (this.scope.canceled) and checks it.
  const predictor = `import { BasePredictor, Type } from 'cog-node';
export class Predictor extends BasePredictor {
  static output = Type.String();
  async predict() {
    this.scope.throwIfCanceled();
    return 'canceled=' + this.scope.canceled;
  }
}
`;
  const layout = (localVersion?: string) => {
    const dir = project({ 'cog.yaml': 'predict: "predict.ts:Predictor"\n', 'predict.ts': predictor, 'package.json': '{"type": "module"}' });
    const local = copyPackage(join(dir, 'node_modules', 'cog-node'), { version: localVersion });
    return { dir, local: realpathSync(local) };
  };

  it("a global cog-node hands over to the project's own node_modules/cog-node", async () => {
    const { dir } = layout();
    const run = await cli(['predict'], { cwd: dir });
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('canceled=false\n');
    expect(run.code).toBe(0);
  });

  it('a local copy of another major version is not run; loading both fails at once, naming both', async () => {
    const { dir, local } = layout('99.0.0');
    const run = await cli(['predict'], { cwd: dir });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`not handing over to the project's cog-node 99.0.0 (${local})`);
    expect(run.stderr).toContain(
      `Two copies of cog-node are loaded in this process: ${realpathSync(ROOT)} (${version}, loaded first) and ${local} (99.0.0)`,
    );
    expect(run.stderr).not.toContain('no cancel token');
  });
});
