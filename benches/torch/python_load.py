"""Times safetensors.torch.load_file on argv[1], alone and plus touching every page (the
TorchScript toucher next to the file: one byte per 4 KiB), best of argv[2] rounds. Prints JSON."""
import json
import sys
import time

import torch
from safetensors.torch import load_file

path, rounds = sys.argv[1], int(sys.argv[2])
torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 2)
touch = torch.jit.load(path + ".touch.pt")

best = {"load_file": float("inf"), "load_file_touch": float("inf")}
with torch.no_grad():
    for _ in range(rounds):
        start = time.perf_counter()
        tensors = load_file(path)
        best["load_file"] = min(best["load_file"], time.perf_counter() - start)
        del tensors
        start = time.perf_counter()
        touch(list(load_file(path).values()))
        best["load_file_touch"] = min(best["load_file_touch"], time.perf_counter() - start)
print(json.dumps(best))
