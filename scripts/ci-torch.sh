#!/usr/bin/env bash
# Builds and tests cog-node/torch on the CPU, for .ci/run and for developers:
# installs libtorch once (scripts/install-libtorch.sh, cached outside the clone), builds the torch
# addon with the slow libtorch C++ build cached outside the clone (CARGO_TARGET_DIR), checks that
# the addon links libtorch_cuda, runs rustfmt, clippy and the Rust tests of crates/torch, then the
# torch and safetensors vitest files (set COG_NODE_TORCH_SKIP_VITEST=1 to leave them to the
# caller's own vitest run). Needs `npm ci` (or `npm install`) done first.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="$(bash scripts/install-libtorch.sh)"
export COG_NODE_PYTHON="$VENV/bin/python"
LIBTORCH="$(cd /tmp && "$COG_NODE_PYTHON" -c 'import importlib.util as u; print(u.find_spec("torch").submodule_search_locations[0])')"
export LIBTORCH
export CARGO_TARGET_DIR="${COG_NODE_TORCH_TARGET_DIR:-$HOME/.cache/cog-node/target-torch}"
# The triple napi passes too, so that clippy, the tests and the addon share one libtorch C++ build.
TRIPLE=x86_64-unknown-linux-gnu

echo "== libtorch: $LIBTORCH" >&2
cargo fmt --check -p cog-node-torch
cargo clippy --release --target "$TRIPLE" -p cog-node-torch --all-targets -- -D warnings
LD_LIBRARY_PATH="$LIBTORCH/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
  cargo test --release --target "$TRIPLE" -p cog-node-torch
npm run build:torch -- --target-dir "$CARGO_TARGET_DIR"
if ! readelf -d torch/cog-node-torch.linux-x64-gnu.node | grep -q 'NEEDED.*\[libtorch_cuda.so\]'; then
  echo "the torch addon does not link libtorch_cuda.so: it would be CPU-only" >&2
  exit 1
fi
if [ "${COG_NODE_TORCH_SKIP_VITEST:-}" != 1 ]; then
  # The MiniLM example loads `cog-node` from dist/: build it first.
  npm run build:ts
  COG_NODE_TORCH=1 npx vitest run
fi
