import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { UsageError, parse } from './args.js';

export const initHelp = `Usage: cog-node init [--force]

Writes a working cog.yaml, predict.ts, package.json and tsconfig.json in the current folder.
Then try:  cog-node predict -i prompt=hello

Options:
  --force      Overwrite files that already exist.
  -h, --help   Show this help.`;

const COG_YAML = `# cog-node reads the same cog.yaml as Cog.
# The predictor: file and exported class (.ts, .js or .mjs).
predict: "predict.ts:Predictor"

# Predictions in flight at once (needs an async predict()); COG_MAX_CONCURRENCY overrides it.
concurrency:
  max: 1
`;

const PREDICT_TS = `import { BasePredictor, Input, Type, type Inputs } from 'cog-node';

export class Predictor extends BasePredictor {
  static inputs = {
    prompt: Input(Type.String(), { description: 'Text to shout' }),
    times: Input(Type.Integer(), { description: 'How many times to repeat it', default: 1, ge: 1, le: 10 }),
  };
  static output = Type.String();

  async setup(weights?: string) {
    // Runs once, before any prediction: load your model here (weights comes from COG_WEIGHTS).
  }

  async predict({ prompt, times }: Inputs<typeof Predictor>) {
    this.recordMetric('characters', prompt.length);
    return Array.from({ length: times }, () => prompt.toUpperCase()).join(' ');
  }
}
`;

const TSCONFIG = `{
  "compilerOptions": {
    "target": "ES2022",
    "module": "NodeNext",
    "moduleResolution": "NodeNext",
    "strict": true,
    "skipLibCheck": true,
    "noEmit": true
  },
  "include": ["*.ts"]
}
`;

function packageJson(dir: string): string {
  const name = basename(dir).toLowerCase().replace(/[^a-z0-9-._~]/g, '-').replace(/^[-._]+/, '') || 'my-model';
  return `${JSON.stringify(
    {
      name,
      private: true,
      type: 'module',
      scripts: { predict: 'cog-node predict', serve: 'cog-node serve', schema: 'cog-node schema' },
    },
    null,
    2,
  )}\n`;
}

export async function initCommand(args: string[]): Promise<number> {
  const { values } = parse(args, { force: { type: 'boolean' } });
  if (values.help) {
    console.log(initHelp);
    return 0;
  }
  const dir = process.cwd();
  const files: Record<string, string> = {
    'cog.yaml': COG_YAML,
    'predict.ts': PREDICT_TS,
    'package.json': packageJson(dir),
    'tsconfig.json': TSCONFIG,
  };
  const existing = Object.keys(files).filter((name) => existsSync(join(dir, name)));
  if (existing.length > 0 && !values.force) {
    throw new UsageError(`${existing.join(', ')} already exist${existing.length === 1 ? 's' : ''} here; use --force to overwrite`);
  }
  for (const [name, content] of Object.entries(files)) {
    await writeFile(join(dir, name), content);
    console.log(`Wrote ${name}`);
  }
  console.log('\nTry it:  cog-node predict -i prompt=hello');
  return 0;
}
