"""Times forward passes of the benchmark's TorchScript models in Python torch, as forward.ts does
in cog-node: same files, inputs and thread count. Reads one JSON request per line on stdin
({"model", "batch", "iterations", "warmup"}) and answers one JSON line with each call's time in
ms, so that forward.ts can interleave Python's and cog-node's calls of the same case: on a busy
machine, both sides then share whatever else runs."""
import json
import sys
import time

import torch

try:
    from safetensors.torch import save_file
except ImportError:  # the GPU machine's Python may lack it; then no inputs file is written
    save_file = None

models_dir, threads, device = sys.argv[1], int(sys.argv[2]), sys.argv[3]
torch.set_num_threads(threads)
modules = {}
arguments = {}


def inputs(model: str, batch: int):
    g = torch.Generator().manual_seed(batch)
    if model == "mlp":
        return (torch.randn(batch, 512, generator=g),)
    if model == "resnet18":
        return (torch.randn(batch, 3, 224, 224, generator=g),)
    ids = torch.randint(1000, 30000, (batch, 128), generator=g)
    return ids, torch.ones(batch, 128, dtype=torch.int64)


def sync():
    if device.startswith("cuda"):
        torch.cuda.synchronize()


with torch.no_grad():
    for line in sys.stdin:
        case = json.loads(line)
        name, batch = case["model"], case["batch"]
        if name not in modules:
            modules[name] = torch.jit.load(f"{models_dir}/{name}.pt", map_location=device).eval()
        module = modules[name]
        if (name, batch) not in arguments:
            host = inputs(name, batch)
            # The same inputs for cog-node's side of the comparison.
            if save_file is not None:
                save_file({f"arg{i}": t for i, t in enumerate(host)}, f"{models_dir}/inputs-{name}-{batch}.safetensors")
            arguments[(name, batch)] = tuple(t.to(device) for t in host)
        args = arguments[(name, batch)]
        for _ in range(case.get("warmup", 0)):  # the profiling executor's passes
            module(*args)
        times = []
        for _ in range(case["iterations"]):
            sync()
            start = time.perf_counter()
            out = module(*args)
            sync()
            times.append((time.perf_counter() - start) * 1000)
        print(json.dumps({"times": times, "checksum": float(out.float().sum())}), flush=True)
