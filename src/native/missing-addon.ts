// Turns the napi-generated loader's "Cannot find native binding … npm has a bug" into an error
// that names the per-platform package to install (taken from what the loader tried) or the
// command that builds the addon in a clone.
import { NativeAddonNotFoundError } from '../errors.js';
import { COG_NODE_VERSION } from '../version.js';

/** The messages of an error and of its `cause` chain (the loader chains one error per attempt). */
function messages(error: unknown): string[] {
  const found: string[] = [];
  const seen = new Set<unknown>();
  for (let current = error; current instanceof Error && !seen.has(current); current = current.cause) {
    seen.add(current);
    found.push(current.message);
  }
  return found;
}

export interface AddonDescription {
  /** What the user imported: `cog-node` or `cog-node/torch`. */
  name: string;
  /** The npm name the per-platform packages start with: `cog-node` → `cog-node-linux-x64-gnu`. */
  packagePrefix: string;
  /** What builds it in a clone. */
  buildCommand: string;
}

/** The error to throw when the generated loader `index.js` could not load a binary. */
export function missingAddonError(error: unknown, addon: AddonDescription): Error {
  const tried = messages(error);
  if (!tried.some((message) => message.startsWith('Cannot find native binding'))) return error as Error;
  // The loader requires `<prefix>-<platform>` by name; a missing package says "Cannot find module '…'".
  const pattern = new RegExp(`Cannot find module '(${addon.packagePrefix.replace(/[-/]/g, '\\$&')}-[a-z0-9-]+)(?:/package\\.json)?'`);
  const candidates = tried.map((message) => pattern.exec(message)?.[1]).filter((name) => name !== undefined);
  // The loader also tries a WebAssembly fallback, which we do not publish: name the native package.
  const wanted = candidates.find((name) => !name.endsWith('-wasm32-wasi')) ?? candidates[0];
  const details = tried
    .slice(1)
    .map((message) => `  - ${message.split('\n')[0]}`)
    .join('\n');
  if (wanted === undefined) {
    return new NativeAddonNotFoundError(
      `${addon.name} has no prebuilt native addon for ${process.platform}-${process.arch}; build it from a clone of cog-node with Rust installed: \`${addon.buildCommand}\`.\nThe loader tried:\n${details}`,
      { cause: error },
    );
  }
  return new NativeAddonNotFoundError(
    `${addon.name} cannot find its native addon for this platform, the package ${wanted}. ` +
      `Install it: \`npm install ${wanted}@${COG_NODE_VERSION}\` (npm skips it when installing with --omit=optional or --no-optional, ` +
      `or from a package-lock.json made on another platform: then delete node_modules and package-lock.json and run \`npm install\` again). ` +
      `In a clone of cog-node, build it instead: \`${addon.buildCommand}\` (needs Rust).\nThe loader tried:\n${details}`,
    { cause: error },
  );
}
