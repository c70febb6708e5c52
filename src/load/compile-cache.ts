// A one-file TypeScript predictor compiled once and kept on disk, so a start imports plain JS with
// no module hooks: tsx's hooks run in a thread of their own (~35 MiB and ~0.2 s of CPU a start).
// What this cannot keep exact falls back to tsx (returns undefined); load-module.ts decides.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { COG_NODE_VERSION } from '../version.js';
import { fromSource, packageFile } from '../own-files.js';
import { saysCommonJs } from './resolve-hook.js';

/**
 * Where compiled predictors are kept: `node_modules/.cache/cog-node/` beside the predictor, as
 * Babel, ESLint and webpack keep theirs, because a package the predictor imports (`sharp`)
 * resolves from there exactly as from the predictor's own folder (a cache in $XDG_CACHE_HOME
 * would not find them). Entries are named by a hash of everything the output depends on, so a
 * changed predictor, compiler or cog-node makes a new entry and never reads a stale one.
 */
export const cacheDirOf = (file: string): string => join(dirname(file), 'node_modules', '.cache', 'cog-node');

/** What only tsx does faithfully: other local modules, a dynamic import, `import.meta.resolve`. */
const NEEDS_TSX = /\bimport\s*\(|import\.meta\.resolve|\brequire\s*\(/;

/**
 * Where the compiled file's `import 'cog-node'` (and `/torch`, `/native`) go, by URL: the copy the
 * predictor's folder resolves (its own install, or this package from inside it), else the running
 * copy, as the resolve hook gives under tsx. By URL, because the cache folder is outside any
 * package scope: a self-reference would not resolve from there.
 */
function cogNodeTargets(file: string): Record<string, string> {
  const own: Record<string, string> = {
    'cog-node': packageFile('dist/index.js').href,
    'cog-node/torch': packageFile('dist/torch/index.js').href,
    'cog-node/native': packageFile('index.js').href,
  };
  const require = createRequire(file);
  const targets: Record<string, string> = {};
  for (const [specifier, fallback] of Object.entries(own)) {
    try {
      targets[specifier] = pathToFileURL(require.resolve(specifier)).href;
    } catch {
      targets[specifier] = fallback;
    }
  }
  return targets;
}

/**
 * Points the compiled predictor's `import { ... } from 'cog-node'` at predictor-api.js when every
 * name it takes is there (the usual predictor: BasePredictor, Input, Type...): the same modules,
 * so the same classes and scope, without loading the server, runtime and CLI into its thread.
 */
async function lighterImport(text: string, index: string): Promise<string> {
  const light = packageFile('dist/predictor-api.js').href;
  if (index !== packageFile('dist/index.js').href) return text; // another copy's
  const names = new Set(Object.keys(await import(light)));
  const quoted = JSON.stringify(index);
  const named = new RegExp(`import \\{([^}]*)\\} from ${quoted.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')};`, 'g');
  const taken = [...text.matchAll(named)];
  const uses = text.split(quoted).length - 1;
  const fits = taken.every((match) =>
    match[1]!
      .split(',')
      .map((name) => name.trim().split(/\s+as\s+/)[0]!)
      .every((name) => name === '' || names.has(name)),
  );
  return uses === taken.length && fits ? text.replaceAll(quoted, JSON.stringify(light)) : text;
}

/**
 * The URL of `file` compiled to an ES module in the cache, compiling it on a miss; `undefined`
 * when it must go through tsx (see NEEDS_TSX, CommonJS, a folder that cannot be written).
 */
export async function compiledPredictor(file: string): Promise<string | undefined> {
  // From TypeScript sources (a test runner), tsx stays in charge of the whole graph.
  if (!/\.m?ts$/.test(file) || fromSource) return undefined;
  const source = readFileSync(file, 'utf8');
  if (NEEDS_TSX.test(source) || (file.endsWith('.ts') && saysCommonJs(dirname(file)))) return undefined;
  const aliases = cogNodeTargets(file);
  const esbuildVersion = (
    JSON.parse(readFileSync(createRequire(import.meta.url).resolve('esbuild/package.json'), 'utf8')) as { version: string }
  ).version;
  // esbuild reads the nearest tsconfig.json (decorators, JSX...): its text is part of the key.
  let tsconfig = '';
  for (let at = dirname(file); ; at = dirname(at)) {
    if (existsSync(join(at, 'tsconfig.json'))) {
      tsconfig = readFileSync(join(at, 'tsconfig.json'), 'utf8');
      break;
    }
    if (dirname(at) === at) break;
  }
  const key = createHash('sha256')
    .update(JSON.stringify([source, tsconfig, file, esbuildVersion, COG_NODE_VERSION, aliases]))
    .digest('hex')
    .slice(0, 20);
  const dir = cacheDirOf(file);
  const cached = join(dir, `${basename(file).replace(/\.m?ts$/, '')}-${key}.mjs`);
  if (existsSync(cached)) return pathToFileURL(cached).href;

  const { build } = await import('esbuild');
  const url = pathToFileURL(file).href;
  const result = await build({
    entryPoints: [file],
    // Source map paths relative to where the compiled file lives: stacks name the predictor's lines.
    outfile: cached,
    absWorkingDir: dirname(file),
    bundle: true,
    packages: 'external',
    write: false,
    metafile: true,
    format: 'esm',
    platform: 'node',
    target: `node${process.versions.node.split('.')[0]}`,
    sourcemap: 'inline',
    logLevel: 'silent',
    // The compiled file lives in the cache; the predictor's own place is its file's.
    define: {
      'import.meta.url': JSON.stringify(url),
      'import.meta.filename': JSON.stringify(file),
      'import.meta.dirname': JSON.stringify(dirname(file)),
    },
    plugins: [
      {
        name: 'cog-node',
        setup(context) {
          context.onResolve({ filter: /^cog-node(\/(torch|native))?$/ }, (args) => ({ path: aliases[args.path]!, external: true }));
        },
      },
    ],
  });
  // It imports other local modules: tsx loads each (and their own imports) where they are.
  if (Object.keys(result.metafile.inputs).length !== 1) return undefined;
  let text = result.outputFiles[0]!.text;
  text = await lighterImport(text, aliases['cog-node']!);
  try {
    mkdirSync(dir, { recursive: true });
    const partial = `${cached}.${process.pid}.${Math.random().toString(36).slice(2)}`;
    writeFileSync(partial, text);
    renameSync(partial, cached); // whole or absent, for a concurrent start
  } catch {
    return undefined; // a read-only folder: tsx compiles in memory each start, as before
  }
  return pathToFileURL(cached).href;
}
