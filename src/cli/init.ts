// `cog-node init`: writes a starter cog.yaml and predict.ts (over existing ones only with --force),
// adds to an existing package.json only what cog-node needs, and writes tsconfig.json if missing.
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { COG_NODE_VERSION } from '../version.js';
import { UsageError } from '../errors.js';
import { parse } from './args.js';

export const initHelp = `Usage: cog-node init [--force]

Writes a working cog.yaml and predict.ts in the current folder, and a tsconfig.json when there
is none. An existing package.json gets only what is missing (cog-node as a dependency, scripts
whose names are free); otherwise one is written. Then try:  cog-node predict -i prompt=hello

Options:
  --force      Overwrite an existing cog.yaml and predict.ts (nothing else is ever overwritten).
  -h, --help   Show this help.`;

const COG_YAML = `# yaml-language-server: $schema=node_modules/cog-node/cog.schema.json
# cog-node reads the same cog.yaml as Cog (the schema above lets editors complete and check it).
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

/** Cog's `cog init` refuses to overwrite these two; everything else is added to, never replaced. */
const OWN_FILES = ['cog.yaml', 'predict.ts'] as const;
const SCRIPTS = { predict: 'cog-node predict', serve: 'cog-node serve', schema: 'cog-node schema' };

function newPackageJson(dir: string): string {
  const name =
    basename(dir)
      .toLowerCase()
      .replace(/[^a-z0-9-._~]/g, '-')
      .replace(/^[-._]+/, '') || 'my-model';
  const manifest = { name, private: true, type: 'module', scripts: SCRIPTS, dependencies: { 'cog-node': `^${COG_NODE_VERSION}` } };
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

/**
 * Merges what a cog-node project needs into an existing package.json: `cog-node` as a dependency
 * (unless it is one already, of any kind) and the scripts whose names are free (a taken name
 * gets `cog:` in front). Key order, indentation and every existing value are kept.
 */
function mergePackageJson(text: string): { text: string; added: string[] } {
  let manifest: Record<string, unknown>;
  try {
    manifest = JSON.parse(text) as Record<string, unknown>;
  } catch (error) {
    throw new UsageError(`package.json is not valid JSON (${(error as Error).message}); fix it, then run cog-node init again`);
  }
  if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest))
    throw new UsageError('package.json must hold a JSON object');
  const added: string[] = [];
  const declared = ['dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies'].some(
    (field) => typeof manifest[field] === 'object' && manifest[field] !== null && 'cog-node' in (manifest[field] as object),
  );
  if (!declared) {
    manifest.dependencies = { ...(manifest.dependencies as object | undefined), 'cog-node': `^${COG_NODE_VERSION}` };
    added.push(`dependency cog-node ^${COG_NODE_VERSION}`);
  }
  const scripts = { ...(manifest.scripts as Record<string, string> | undefined) };
  for (const [name, command] of Object.entries(SCRIPTS)) {
    if (Object.values(scripts).includes(command)) continue;
    const free = [name, `cog:${name}`].find((candidate) => !(candidate in scripts));
    if (free === undefined) continue;
    scripts[free] = command;
    added.push(`script "${free}"`);
  }
  manifest.scripts = scripts;
  const indent = /^[ \t]+(?=")/m.exec(text)?.[0] ?? '  ';
  return { text: `${JSON.stringify(manifest, null, indent)}\n`, added };
}

export async function initCommand(args: string[]): Promise<number> {
  const { values } = parse(args, { force: { type: 'boolean' } });
  if (values.help) {
    console.log(initHelp);
    return 0;
  }
  const dir = process.cwd();
  const existing = OWN_FILES.filter((name) => existsSync(join(dir, name)));
  if (existing.length > 0 && !values.force) {
    throw new UsageError(
      `${existing.join(', ')} already exist${existing.length === 1 ? 's' : ''} here; use --force to overwrite ${existing.length === 1 ? 'it' : 'them'}`,
    );
  }
  await writeFile(join(dir, 'cog.yaml'), COG_YAML);
  console.log('Wrote cog.yaml');
  await writeFile(join(dir, 'predict.ts'), PREDICT_TS);
  console.log('Wrote predict.ts');
  const manifestPath = join(dir, 'package.json');
  if (existsSync(manifestPath)) {
    const original = await readFile(manifestPath, 'utf8');
    const { text, added } = mergePackageJson(original);
    if (added.length > 0) {
      await writeFile(manifestPath, text);
      console.log(`Added to package.json: ${added.join(', ')}`);
    } else {
      console.log('package.json already has what cog-node needs');
    }
  } else {
    await writeFile(manifestPath, newPackageJson(dir));
    console.log('Wrote package.json');
  }
  if (existsSync(join(dir, 'tsconfig.json'))) {
    console.log('Kept your tsconfig.json');
  } else {
    await writeFile(join(dir, 'tsconfig.json'), TSCONFIG);
    console.log('Wrote tsconfig.json');
  }
  console.log('\nTry it:  cog-node predict -i prompt=hello');
  return 0;
}
