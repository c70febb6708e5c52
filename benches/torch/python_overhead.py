"""The fixed cost of one TorchScript call in Python torch, for overhead.ts: writes the bench's
tiny modules (identity: `return x`; add: `return x + 1` on a 1-element tensor) into argv[1] if
missing, prints "ready", then answers each JSON request line ({"model", "calls"}) with the mean
µs per call of `calls` back-to-back calls (one perf_counter pair per sample, not per call)."""
import json
import sys
import time
from pathlib import Path

import torch
from torch import nn

models_dir, threads = Path(sys.argv[1]), int(sys.argv[2])
torch.set_num_threads(threads)


class Identity(nn.Module):
    def forward(self, x):
        return x


class AddOne(nn.Module):
    def forward(self, x):
        return x + 1


models_dir.mkdir(parents=True, exist_ok=True)
for name, module in (("identity", Identity()), ("add", AddOne())):
    if not (models_dir / f"{name}.pt").exists():
        torch.jit.script(module).save(str(models_dir / f"{name}.pt"))
print("ready", flush=True)

x = torch.ones(1)
modules = {}
with torch.no_grad():
    for line in sys.stdin:
        case = json.loads(line)
        name = case["model"]
        if name not in modules:
            modules[name] = torch.jit.load(str(models_dir / f"{name}.pt")).eval()
            for _ in range(100):
                modules[name](x)
        module = modules[name]
        calls = case["calls"]
        start = time.perf_counter()
        for _ in range(calls):
            module(x)
        print(json.dumps({"us": (time.perf_counter() - start) * 1e6 / calls}), flush=True)
