import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, project } from './helpers/cli.js';

const yaml = (ref = 'predict.ts:Predictor', extra = '') => `predict: "${ref}"\n${extra}`;

describe('cog-node init', () => {
  it('writes a project that predicts at once', async () => {
    const dir = project({});
    const init = await cli(['init'], { cwd: dir });
    expect(init.code).toBe(0);
    for (const file of ['cog.yaml', 'predict.ts', 'package.json', 'tsconfig.json']) expect(existsSync(join(dir, file))).toBe(true);
    const run = await cli(['predict', '-i', 'prompt=hello', '-i', 'times=2'], { cwd: dir });
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('HELLO HELLO\n');
    expect(run.code).toBe(0);
  });

  it('refuses to overwrite files unless --force', async () => {
    const dir = project({ 'cog.yaml': 'predict: "mine.ts:Predictor"\n' });
    const refused = await cli(['init'], { cwd: dir });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('cog.yaml already exists');
    expect(readFileSync(join(dir, 'cog.yaml'), 'utf8')).toContain('mine.ts');
    const forced = await cli(['init', '--force'], { cwd: dir });
    expect(forced.code).toBe(0);
    expect(readFileSync(join(dir, 'cog.yaml'), 'utf8')).toContain('predict.ts:Predictor');
  });
});

const KITCHEN_SINK = `import { BasePredictor, Input, Path, Type, type Inputs } from 'cog-node';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export class Predictor extends BasePredictor {
  static inputs = {
    mode: Input(Type.String(), { choices: ['echo', 'sum', 'file', 'files', 'object', 'fail', 'env', 'text-of'], default: 'echo' }),
    text: Input(Type.String(), { default: '' }),
    numbers: Input(Type.Array(Type.Integer()), { default: [] }),
    flag: Input(Type.Boolean(), { default: false }),
    ratio: Input(Type.Number(), { default: 0.5, ge: 0, le: 1 }),
    document: Input(Type.Optional(Type.Path())),
  };
  static output = Type.Any();

  async predict(input: Inputs<typeof Predictor>) {
    console.error('working on', input.mode);
    switch (input.mode) {
      case 'echo': return input.text;
      case 'sum': return input.numbers.reduce((a, b) => a + b, 0);
      case 'file': {
        const out = join(tmpdir(), 'cog-node-cli-out-' + process.pid + '.txt');
        writeFileSync(out, 'file:' + input.text);
        return new Path(out);
      }
      case 'files': return ['a', 'b'].map((name) => {
        const out = join(tmpdir(), 'cog-node-cli-' + name + '-' + process.pid + '.json');
        writeFileSync(out, JSON.stringify({ name }));
        return new Path(out);
      });
      case 'object': return { flag: input.flag, ratio: input.ratio, numbers: input.numbers };
      case 'fail': throw new Error('the model broke');
      case 'env': return process.env.GREETING ?? 'unset';
      case 'text-of': return input.document ? await input.document.readText() : input.text;
    }
  }
}
`;

describe('cog-node predict', () => {
  const dir = project({ 'cog.yaml': yaml(), 'predict.ts': KITCHEN_SINK, 'note.txt': 'a note\n' });

  it('prints a string output raw', async () => {
    const run = await cli(['predict', '-i', 'text=hi there'], { cwd: dir });
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('hi there\n');
    expect(run.stderr).toContain('working on echo');
  });

  it('builds a list by repeating a name, coercing strings to the declared types', async () => {
    const run = await cli(['predict', '-i', 'mode=sum', '-i', 'numbers=2', '-i', 'numbers=40'], { cwd: dir });
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('42\n');
    const single = await cli(['predict', '-i', 'mode=sum', '-i', 'numbers=7'], { cwd: dir });
    expect(single.stdout).toBe('7\n');
  });

  it('prints other outputs as indented JSON', async () => {
    const run = await cli(['predict', '-i', 'mode=object', '-i', 'flag=true', '-i', 'ratio=0.25', '-i', 'numbers=1'], { cwd: dir });
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`${JSON.stringify({ flag: true, ratio: 0.25, numbers: [1] }, null, 2)}\n`);
  });

  it('sends a file with name=@file', async () => {
    const asPath = await cli(['predict', '-i', 'mode=text-of', '-i', 'document=@note.txt'], { cwd: dir });
    expect(asPath.code).toBe(0);
    expect(asPath.stdout).toBe('a note\n');
    const asString = await cli(['predict', '-i', 'text=@note.txt'], { cwd: dir });
    expect(asString.stdout).toBe(`data:text/plain;base64,${Buffer.from('a note\n').toString('base64')}\n`);
  });

  it('writes a file output as output.<ext>, or to -o', async () => {
    const out = project({ 'cog.yaml': yaml(), 'predict.ts': KITCHEN_SINK });
    const run = await cli(['predict', '-i', 'mode=file', '-i', 'text=x'], { cwd: out });
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('Written output to: output.txt');
    expect(readFileSync(join(out, 'output.txt'), 'utf8')).toBe('file:x');
    const named = await cli(['predict', '-i', 'mode=file', '-i', 'text=y', '-o', 'result.txt'], { cwd: out });
    expect(named.code).toBe(0);
    expect(readFileSync(join(out, 'result.txt'), 'utf8')).toBe('file:y');
  });

  it('writes a list of files as output.0.<ext>, output.1.<ext>', async () => {
    const out = project({ 'cog.yaml': yaml(), 'predict.ts': KITCHEN_SINK });
    const run = await cli(['predict', '-i', 'mode=files'], { cwd: out });
    expect(run.code).toBe(0);
    expect(JSON.parse(readFileSync(join(out, 'output.0.json'), 'utf8'))).toEqual({ name: 'a' });
    expect(JSON.parse(readFileSync(join(out, 'output.1.json'), 'utf8'))).toEqual({ name: 'b' });
  });

  it('writes a string output to -o', async () => {
    const out = project({ 'cog.yaml': yaml(), 'predict.ts': KITCHEN_SINK });
    const run = await cli(['predict', '-i', 'text=saved', '-o', 'out.txt'], { cwd: out });
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('');
    expect(readFileSync(join(out, 'out.txt'), 'utf8')).toBe('saved');
  });

  it('takes --json inline, from a file and from stdin, printing the whole prediction', async () => {
    const inline = await cli(['predict', '--json', '{"mode":"sum","numbers":[1,2,3]}'], { cwd: dir });
    expect(inline.code).toBe(0);
    const prediction = JSON.parse(inline.stdout) as Record<string, unknown>;
    expect(prediction).toMatchObject({ status: 'succeeded', output: 6, input: { mode: 'sum', numbers: [1, 2, 3] } });
    expect(typeof (prediction.metrics as Record<string, unknown>).predict_time).toBe('number');

    writeFileSync(join(dir, 'input.json'), '{"text":"from file"}');
    const fromFile = await cli(['predict', '--json', '@input.json'], { cwd: dir });
    expect(JSON.parse(fromFile.stdout).output).toBe('from file');

    const fromStdin = await cli(['predict', '--json', '@-'], { cwd: dir, stdin: '{"mode":"text-of","document":"@note.txt"}' });
    expect(JSON.parse(fromStdin.stdout).output).toBe('a note\n');
  });

  it('exits 1 with the whole failed prediction in --json mode', async () => {
    const run = await cli(['predict', '--json', '{"mode":"fail"}'], { cwd: dir });
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)).toMatchObject({ status: 'failed', error: 'the model broke' });
  });

  it('sets environment variables with -e', async () => {
    const run = await cli(['predict', '-i', 'mode=env', '-e', 'GREETING=bonjour'], { cwd: dir });
    expect(run.stdout).toBe('bonjour\n');
  });

  it('exits 1 with the error when the prediction fails', async () => {
    const run = await cli(['predict', '-i', 'mode=fail'], { cwd: dir });
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('Prediction failed with status failed: the model broke');
  });

  it('exits 1 naming each invalid input and the rule it broke', async () => {
    const run = await cli(['predict', '-i', 'ratio=2', '-i', 'mode=nope'], { cwd: dir });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('ratio: must be <= 1');
    expect(run.stderr).toMatch(/mode: must be one of: "echo", "sum"/);
  });

  it('exits 2 on bad usage, with the help', async () => {
    const unknown = await cli(['predict', '--nope'], { cwd: dir });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("Unknown option '--nope'");
    expect(unknown.stderr).toContain('Usage: cog-node predict');
    const both = await cli(['predict', '--json', '{}', '-i', 'text=x'], { cwd: dir });
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--json and -i cannot be used together');
    const malformed = await cli(['predict', '-i', 'novalue'], { cwd: dir });
    expect(malformed.code).toBe(2);
    const badJson = await cli(['predict', '--json', '{nope'], { cwd: dir });
    expect(badJson.code).toBe(2);
    expect(badJson.stderr).toContain('--json is not valid JSON');
  });
});

describe('cog-node --help', () => {
  const dir = project({});
  it.each(['init', 'predict', 'train', 'serve', 'schema'])('%s --help explains the command', async (command) => {
    const run = await cli([command, '--help'], { cwd: dir });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`Usage: cog-node ${command}`);
  });

  it('lists the commands, and rejects an unknown one', async () => {
    const help = await cli(['--help'], { cwd: dir });
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/init[\s\S]*predict[\s\S]*serve[\s\S]*schema/);
    const unknown = await cli(['frobnicate'], { cwd: dir });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'frobnicate'");
  });
});

describe('cog.yaml', () => {
  const predictor = (ext: string) => `import { BasePredictor, Input, Type } from 'cog-node';
export class Predictor extends BasePredictor {
  static inputs = { name: Input(Type.String(), { default: 'world' }) };
  predict({ name }${ext === 'ts' ? ': { name: string }' : ''}) { return 'hello ' + name + ' from ${ext}'; }
}
`;

  it.each(['ts', 'js', 'mjs'])('loads a .%s predictor', async (ext) => {
    const dir = project({
      'cog.yaml': yaml(`predict.${ext}:Predictor`),
      [`predict.${ext}`]: predictor(ext),
      'package.json': '{"type":"module"}',
    });
    const run = await cli(['predict'], { cwd: dir });
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe(`hello world from ${ext}\n`);
  });

  it('accepts run: (Cog 0.20) and a reference without a class name', async () => {
    const dir = project({ 'cog.yaml': 'run: "predict.ts"\nbuild:\n  gpu: true\nimage: r8.im/x\n', 'predict.ts': predictor('ts') });
    const run = await cli(['predict', '-i', 'name=cog'], { cwd: dir });
    expect(run.stdout).toBe('hello cog from ts\n');
  });

  it('says what to write when cog.yaml is missing or wrong', async () => {
    const missing = await cli(['predict'], { cwd: project({}) });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('cog.yaml: not found');
    const both = await cli(['predict'], { cwd: project({ 'cog.yaml': 'run: "a.ts"\npredict: "b.ts"\n' }) });
    expect(both.stderr).toContain('either `run` or `predict`');
    const badConcurrency = await cli(['predict'], { cwd: project({ 'cog.yaml': 'predict: "p.ts"\nconcurrency:\n  max: 0\n' }) });
    expect(badConcurrency.stderr).toContain('`concurrency.max` must be an integer >= 1');
    const noFile = await cli(['predict'], { cwd: project({ 'cog.yaml': yaml('nope.ts:Predictor') }) });
    expect(noFile.stderr).toContain('file not found');
    const noExport = await cli(['predict'], { cwd: project({ 'cog.yaml': yaml('predict.ts:Missing'), 'predict.ts': predictor('ts') }) });
    expect(noExport.stderr).toContain('exports no Missing');
  });

  it('applies environment: from cog.yaml', async () => {
    const dir = project({
      'cog.yaml': `${yaml()}environment:\n  - GREETING=hallo\n`,
      'predict.ts': `export class Predictor { predict() { return process.env.GREETING; } }\n`,
    });
    const run = await cli(['predict'], { cwd: dir });
    expect(run.stdout).toBe('hallo\n');
  });

  it('fails setup of a sync predictor with concurrency > 1, as Cog', async () => {
    const dir = project({ 'cog.yaml': yaml('predict.ts:Predictor', 'concurrency:\n  max: 2\n'), 'predict.ts': predictor('ts') });
    const run = await cli(['predict'], { cwd: dir });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('COG_MAX_CONCURRENCY > 1 requires an async run() or predict() method');
  });
});

describe('setup', () => {
  it('passes COG_WEIGHTS to setup(weights) and reports setup failure', async () => {
    const dir = project({
      'cog.yaml': yaml(),
      'predict.ts': `export class Predictor {
  weights?: string;
  async setup(weights?: string) {
    if (weights === 'broken') throw new Error('cannot load weights');
    this.weights = weights;
  }
  predict() { return 'weights=' + this.weights; }
}
`,
    });
    const ok = await cli(['predict'], { cwd: dir, env: { COG_WEIGHTS: 'https://example.test/w.bin' } });
    expect(ok.stdout).toBe('weights=https://example.test/w.bin\n');
    const failed = await cli(['predict'], { cwd: dir, env: { COG_WEIGHTS: 'broken' } });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('Setup failed: cannot load weights');
  });
});

describe('--setup-timeout', () => {
  it('fails a setup that takes longer, and rejects a bad value', async () => {
    const dir = project({
      'cog.yaml': yaml(),
      'predict.ts': `export class Predictor {
  async setup() { await new Promise((resolve) => setTimeout(resolve, 10_000)); }
  predict() { return 'never'; }
}
`,
    });
    const slow = await cli(['predict', '--setup-timeout', '0.5'], { cwd: dir });
    expect(slow.code).toBe(1);
    expect(slow.stderr).toContain('Setup failed: Setup timed out after 0.5 seconds');
    const bad = await cli(['predict', '--setup-timeout', 'soon'], { cwd: dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--setup-timeout must be a number of seconds');
  });
});

describe('streamed output', () => {
  it('prints a ConcatenateIterator as the text it concatenates', async () => {
    const dir = project({
      'cog.yaml': yaml(),
      'predict.ts': `import { BasePredictor, Type } from 'cog-node';
export class Predictor extends BasePredictor {
  static output = Type.ConcatenateIterator(Type.String());
  async *predict() { for (const word of ['one ', 'two ', 'three']) yield word; }
}
`,
    });
    const run = await cli(['predict'], { cwd: dir });
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('one two three\n');
  });

  it('prints an Iterator as a JSON array', async () => {
    const dir = project({
      'cog.yaml': yaml(),
      'predict.ts': `import { BasePredictor, Type } from 'cog-node';
export class Predictor extends BasePredictor {
  static output = Type.Iterator(Type.Integer());
  *predict() { yield 1; yield 2; }
}
`,
    });
    const run = await cli(['predict'], { cwd: dir });
    expect(JSON.parse(run.stdout)).toEqual([1, 2]);
  });
});

describe('cancellation', () => {
  it('Ctrl-C cancels the prediction and exits 1', async () => {
    const dir = project({
      'cog.yaml': yaml(),
      'predict.ts': `import { BasePredictor } from 'cog-node';
export class Predictor extends BasePredictor {
  async predict() {
    console.log('started');
    await new Promise((resolve) => this.scope.signal.addEventListener('abort', resolve));
    return 'never';
  }
}
`,
    });
    const run = await cli(['predict'], {
      cwd: dir,
      onSpawn: (child) => {
        // The predictor's logs reach stderr (stdout is for the output alone).
        child.stderr?.on('data', (chunk: Buffer) => {
          if (chunk.toString().includes('started')) child.kill('SIGINT');
        });
      },
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('Prediction failed with status canceled');
  });
});

describe('cog-node schema and train', () => {
  const dir = project({
    'cog.yaml': `${yaml()}train: "train.ts:Trainer"\n`,
    'predict.ts': `import { BasePredictor, Input, Type } from 'cog-node';
export class Predictor extends BasePredictor {
  static inputs = { no_default: Input(Type.Integer(), { description: 'a number' }) };
  static output = Type.Integer();
  predict({ no_default }: { no_default: number }) { return no_default; }
}
`,
    'train.ts': `import { BaseTrainer, Input, Path, Type } from 'cog-node';
import { writeFileSync } from 'node:fs';
export class Trainer extends BaseTrainer {
  static inputs = { steps: Input(Type.Integer(), { default: 1 }) };
  static output = Type.Object({ weights: Type.Path() });
  train({ steps }: { steps: number }) {
    writeFileSync('trained.bin', 'steps=' + steps);
    return { weights: new Path('trained.bin') };
  }
}
`,
  });

  it('prints the OpenAPI document of predictor and trainer', async () => {
    const run = await cli(['schema'], { cwd: dir });
    expect(run.code).toBe(0);
    const schema = JSON.parse(run.stdout);
    expect(schema.openapi).toBe('3.0.2');
    expect(schema.components.schemas.Input.properties.no_default).toEqual({
      description: 'a number',
      title: 'No Default',
      type: 'integer',
      'x-order': 0,
    });
    expect(schema.components.schemas.Input.required).toEqual(['no_default']);
    expect(Object.keys(schema.paths)).toContain('/trainings');
    expect(schema.components.schemas.TrainingOutput.properties.weights).toEqual({ title: 'Weights', type: 'string', format: 'uri' });
  });

  it('runs the trainer once with cog-node train', async () => {
    const run = await cli(['train', '-i', 'steps=3'], { cwd: dir });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({
      weights: `data:application/octet-stream;base64,${Buffer.from('steps=3').toString('base64')}`,
    });
  });
});
