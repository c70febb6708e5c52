#!/usr/bin/env bash
# Prepares the GPU check here, on the CPU machine: builds the addons and dist/, the Rust unit-test
# binary holding the CUDA checks, and a compressed copy of this Node for a GPU machine without
# one, into .gpu-check/. Then, on the GPU machine, from the repository root:
#   bash scripts/gpu-check-run.sh
# carrying the ignored paths: .gpu-check dist cog-node.linux-x64-gnu.node
#   torch/cog-node-torch.linux-x64-gnu.node   (about 30 MiB in all)
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="$(bash scripts/install-libtorch.sh)"
LIBTORCH="$(cd /tmp && "$VENV/bin/python" -c 'import importlib.util as u; print(u.find_spec("torch").submodule_search_locations[0])')"
export LIBTORCH
export CARGO_TARGET_DIR="${COG_NODE_TORCH_TARGET_DIR:-$HOME/.cache/cog-node/target-torch}"
TRIPLE=x86_64-unknown-linux-gnu

npm run build:native
npm run build:ts
npm run build:torch -- --target-dir "$CARGO_TARGET_DIR"
mkdir -p .gpu-check
# The unit-test binary (the CUDA checks are its ignored `cuda_checks` tests).
BIN="$(cargo test --release --target "$TRIPLE" -p cog-node-torch --lib --no-run --message-format=json 2>/dev/null |
  "$VENV/bin/python" -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "cog_node_torch":
        print(m["executable"])' | tail -n 1)"
cp "$BIN" .gpu-check/torch-unit-tests
NODE="$(command -v node)"
if [ ! -f .gpu-check/node.xz ] || [ "$NODE" -nt .gpu-check/node.xz ]; then
  echo "compressing $NODE ($(node --version)) for a GPU machine without Node (about a minute)" >&2
  xz -T2 -6 -c "$NODE" > .gpu-check/node.xz.tmp && mv .gpu-check/node.xz.tmp .gpu-check/node.xz
fi
du -sh .gpu-check dist cog-node.linux-x64-gnu.node torch/cog-node-torch.linux-x64-gnu.node >&2
