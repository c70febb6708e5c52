#!/usr/bin/env bash
# Runs on the GPU machine, from the repository root, after scripts/gpu-check-build.sh ran here:
#  1. the Rust CUDA checks (libtorch_cuda linked, safetensors onto cuda, a model on cuda vs cpu);
#  2. cog-node/torch under Node: TorchScript models loaded on cuda and on cpu, outputs compared,
#     forward latency of both timed, with Python torch's cuda latency beside it.
# Uses the machine's Python torch (COG_NODE_PYTHON, default python3) as libtorch. Writes its
# report to $OUT/gpu-check.txt when OUT is set. Exits non-zero when a check fails.
# `--rehearse` runs the same plumbing on a machine without a GPU, with cpu in place of cuda.
set -euo pipefail
REHEARSE=0
[ "${1:-}" = --rehearse ] && REHEARSE=1
cd "$(dirname "$0")/.."
OUT="${OUT:-$(mktemp -d)}"
PYTHON="${COG_NODE_PYTHON:-python3}"
export COG_NODE_PYTHON="$PYTHON"

NODE=node
# The bundled Node where the machine has none (or an old one); a rehearsal always uses it.
if [ "$REHEARSE" = 1 ] || ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  NODE="$(mktemp -d)/node"
  "$PYTHON" -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' \
    .gpu-check/node.xz "$NODE"
  chmod +x "$NODE"
fi
echo "node $("$NODE" --version), $("$PYTHON" --version)"
nvidia-smi -L || true

LIBTORCH="$(cd /tmp && "$PYTHON" -c 'import importlib.util as u; print(u.find_spec("torch").submodule_search_locations[0])')"
export LIBTORCH
MODELS="$OUT/models"
(cd /tmp && "$PYTHON" "$OLDPWD/benches/torch/make_models.py" "$MODELS" --no-minilm)

echo "== Rust CUDA checks"
if [ "$REHEARSE" = 1 ]; then
  # Without a GPU the CUDA checks must fail (they demand a device): run the other unit tests.
  LD_LIBRARY_PATH="$LIBTORCH/lib" .gpu-check/torch-unit-tests --test-threads 1
else
  LD_LIBRARY_PATH="$LIBTORCH/lib" COG_NODE_TORCH_MODEL="$MODELS/resnet18.pt" COG_NODE_TORCH_INPUT_SHAPE=8,3,224,224 \
    .gpu-check/torch-unit-tests --ignored cuda_checks --nocapture --test-threads 1
fi

echo "== cog-node/torch on cuda"
if [ "$REHEARSE" = 1 ]; then export COG_NODE_GPU_CHECK_DEVICE=cpu; fi
"$NODE" scripts/gpu-check.mjs "$MODELS" | tee "$OUT/gpu-check.txt"
