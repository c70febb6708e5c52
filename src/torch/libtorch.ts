// Finding and preloading libtorch for the torch addon. The addon links libtorch without an rpath
// (so it works wherever libtorch lives), which is why a plain `require` of it fails: libtorch's
// libraries are loaded here first, RTLD_GLOBAL and RTLD_NODELETE, from the first of:
// `LIBTORCH` (a libtorch directory, or a Python `torch` package directory), then a Python that
// has torch: `COG_NODE_PYTHON`, or else the active virtualenv, the venv of
// scripts/install-libtorch.sh, `python3`, `python`.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { constants, homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { LibtorchNotFoundError } from '../errors.js';

/** The libtorch version the addon is built against (tch 0.24). */
export const LIBTORCH_VERSION = '2.11.0';

export interface LibtorchLocation {
  /** The directory holding `lib/libtorch.so`. */
  dir: string;
  libDir: string;
  /** e.g. `2.11.0+cu130`, or null where the install does not say. */
  version: string | null;
  /** Where it was found: `LIBTORCH` or the Python that has torch. */
  source: string;
}

const INSTALL_HINT = [
  `Install libtorch ${LIBTORCH_VERSION} in one of these ways:`,
  `  pip install torch==${LIBTORCH_VERSION}   (in the Python on PATH, or point COG_NODE_PYTHON at that Python)`,
  `  bash scripts/install-libtorch.sh   (from the cog-node package: a cached venv in ~/.cache/cog-node/torch)`,
  `  or unpack libtorch ${LIBTORCH_VERSION} and set LIBTORCH=/path/to/libtorch`,
].join('\n');

// Prints torch's package directory without importing torch (which takes seconds).
const FIND_TORCH = [
  'import importlib.util as u',
  "s = u.find_spec('torch')",
  "print(s.submodule_search_locations[0] if s and s.origin and s.submodule_search_locations else '')",
].join('\n');

function readVersion(dir: string): string | null {
  for (const [file, pattern] of [
    ['version.py', /__version__\s*=\s*['"]([^'"]+)['"]/],
    ['build-version', /^\s*(\S+)/],
  ] as const) {
    try {
      const match = pattern.exec(readFileSync(path.join(dir, file), 'utf8'));
      if (match?.[1]) return match[1];
    } catch {
      // Not this kind of install.
    }
  }
  return null;
}

function pythonCandidates(env: NodeJS.ProcessEnv): string[] {
  if (env.COG_NODE_PYTHON) return [env.COG_NODE_PYTHON];
  const venv = env.COG_NODE_TORCH_VENV ?? path.join(homedir(), '.cache', 'cog-node', 'torch');
  const candidates = [];
  if (env.VIRTUAL_ENV) candidates.push(path.join(env.VIRTUAL_ENV, 'bin', 'python'));
  candidates.push(path.join(venv, 'bin', 'python'), 'python3', 'python');
  return candidates.filter((c) => !path.isAbsolute(c) || existsSync(c));
}

function torchDirOf(python: string, env: NodeJS.ProcessEnv): string {
  // Run outside the working directory, where a folder named `torch` would shadow the package.
  return execFileSync(python, ['-c', FIND_TORCH], { cwd: tmpdir(), env, encoding: 'utf8', timeout: 30_000 }).trim();
}

function located(dir: string, source: string): LibtorchLocation | string {
  const libDir = path.join(dir, 'lib');
  if (!existsSync(path.join(libDir, 'libtorch.so'))) return `${source}: no lib/libtorch.so in ${dir}`;
  const version = readVersion(dir);
  if (version !== null && !version.startsWith(`${LIBTORCH_VERSION}`)) {
    return `${source}: libtorch ${version} in ${dir}, but cog-node/torch is built against ${LIBTORCH_VERSION}`;
  }
  return { dir, libDir, version, source };
}

/** Finds libtorch as described above, or throws `LibtorchNotFoundError` naming what was tried. */
export function findLibtorch(env: NodeJS.ProcessEnv = process.env): LibtorchLocation {
  const tried: string[] = [];
  if (env.LIBTORCH) {
    const found = located(env.LIBTORCH, 'LIBTORCH');
    if (typeof found !== 'string') return found;
    throw new LibtorchNotFoundError(`cog-node/torch cannot use LIBTORCH: ${found}.\n${INSTALL_HINT}`);
  }
  tried.push('LIBTORCH: not set');
  for (const python of pythonCandidates(env)) {
    let dir: string;
    try {
      dir = torchDirOf(python, env);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      tried.push(`${python}: ${code === 'ENOENT' ? 'not found' : 'failed to run'}`);
      continue;
    }
    if (!dir) {
      tried.push(`${python}: has no torch package`);
      continue;
    }
    const found = located(dir, python);
    if (typeof found !== 'string') return found;
    tried.push(found);
  }
  throw new LibtorchNotFoundError(
    `cog-node/torch needs libtorch ${LIBTORCH_VERSION} and found none (tried ${tried.join('; ')}).\n${INSTALL_HINT}`,
  );
}

// The order in which libtorch's libraries depend on each other; the CUDA ones where present.
const LIBRARIES = ['libc10.so', 'libtorch_cpu.so', 'libc10_cuda.so', 'libtorch_cuda.so', 'libtorch.so'];

/** Loads libtorch's libraries into the process, globally and for good. */
export function preloadLibtorch(location: LibtorchLocation): void {
  // RTLD_NODELETE is in os.constants.dlopen on Linux, though not in @types/node.
  const { RTLD_NOW, RTLD_GLOBAL, RTLD_NODELETE } = constants.dlopen as Record<string, number | undefined>;
  const flags = (RTLD_NOW ?? 2) | (RTLD_GLOBAL ?? 0x100) | (RTLD_NODELETE ?? 0x1000);
  for (const name of LIBRARIES) {
    const file = path.join(location.libDir, name);
    if (!existsSync(file)) continue;
    try {
      process.dlopen({ exports: {} }, file, flags);
    } catch (error) {
      // A plain library loads fine and then is "not an addon": that is the expected outcome.
      const message = (error as Error).message;
      if (!/self-register|Module did not/i.test(message)) {
        throw new LibtorchNotFoundError(`cannot load ${file} (from ${location.source}): ${message}`);
      }
    }
  }
}
