#!/usr/bin/env bash
# One-command set-up from a clone: installs the npm dependencies, builds the native addon (Rust)
# and the TypeScript, and puts the `cog-node` command on your PATH (npm link).
# With --torch it also installs libtorch (from PyPI's torch wheel, ~2.8 GiB, once) and builds
# the libtorch addon for `cog-node/torch`.
set -euo pipefail
cd "$(dirname "$0")/.."
# npm ci runs the package's `prepare` script: napi build (Rust) and tsc.
npm ci --no-audit --no-fund
npm link --no-audit --no-fund >/dev/null
if [ "${1:-}" = "--torch" ]; then
  VENV="$(bash scripts/install-libtorch.sh)"
  LIBTORCH="$(cd /tmp && "$VENV/bin/python" -c 'import importlib.util as u; print(u.find_spec("torch").submodule_search_locations[0])')"
  export LIBTORCH
  npm run build:torch -- --target-dir "$HOME/.cache/cog-node/target-torch"
fi
echo
echo "cog-node $(node bin/cog-node.js --version | cut -d' ' -f2) is ready: $(command -v cog-node)"
echo "Try: mkdir my-model && cd my-model && cog-node init && cog-node predict -i prompt=hello"
