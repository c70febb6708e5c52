// One cog-node per process: a second copy (a global CLI running a project with its own
// node_modules/cog-node) would have its own native cancel-token table, scope storage and classes,
// and predictions would fail obscurely ("no cancel token with id 1"). The first copy to load
// claims the process; another one fails at once, naming both.
import { DuplicateCogNodeError } from '../errors.js';
import { packageRoot } from '../own-files.js';
import { COG_NODE_VERSION } from '../version.js';

const CLAIM = Symbol.for('cog-node.loaded-copy');

interface LoadedCopy {
  root: string;
  version: string;
}

export { packageRoot };

export function claimProcess(): void {
  const registry = globalThis as { [CLAIM]?: LoadedCopy };
  const first = registry[CLAIM];
  if (first === undefined) {
    registry[CLAIM] = { root: packageRoot, version: COG_NODE_VERSION };
    return;
  }
  if (first.root === packageRoot) return;
  throw new DuplicateCogNodeError(
    `Two copies of cog-node are loaded in this process: ${first.root} (${first.version}, loaded first) and ${packageRoot} (${COG_NODE_VERSION}). ` +
      "Their cancellation tokens and prediction scopes cannot see each other. Run the project's own copy (`npx cog-node ...`), " +
      "or remove one of them so that the predictor's `import 'cog-node'` finds the one that runs it.",
  );
}
