"""Writes a ~512 MiB safetensors file (32 float32 tensors of 16 MiB) to argv[1], and next to it
the TorchScript page-toucher both sides use (argv[1] + ".touch.pt")."""
import sys
from typing import List

import torch
from safetensors.torch import save_file


class Touch(torch.nn.Module):
    """Reads one byte per 4 KiB page of every tensor: faults in whatever a loader left lazy."""

    def forward(self, tensors: List[torch.Tensor]) -> int:
        total = 0
        for t in tensors:
            total += int(t.reshape(-1)[:: max(1, 4096 // t.element_size())].float().sum() != 0)
        return total


g = torch.Generator().manual_seed(0)
save_file({f"layer{i}.weight": torch.randn(2048, 2048, generator=g) for i in range(32)}, sys.argv[1])
torch.jit.script(Touch()).save(sys.argv[1] + ".touch.pt")
