// A module-resolution hook: a predictor imports 'cog-node' (or 'cog-node/torch') and gets the
// copy of cog-node that is running it, also from a folder that never installed cog-node (as Cog
// provides `cog` to every model). Installed copies win: they resolve first.
import type { ResolveHook } from 'node:module';

const self = new URL('../package.json', import.meta.url).href;

export const resolve: ResolveHook = async (specifier, context, nextResolve) => {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    if (specifier === 'cog-node' || specifier.startsWith('cog-node/')) {
      return nextResolve(specifier, { ...context, parentURL: self });
    }
    throw error;
  }
};
