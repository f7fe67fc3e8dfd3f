"""PyTorch yardstick for `convnet bench` (issue 11): the same models, batch and thread count.

Not a dependency of convnet and never run by CI. Run it from a virtualenv outside the
repository, interleaved with `convnet bench`:

    python3 -m venv ~/torchvenv && ~/torchvenv/bin/pip install torch
    ~/torchvenv/bin/python benches/yardstick/pytorch_bench.py --model resnet18-cifar --batch-size 32
    target/release/convnet bench --model resnet18-cifar --batch-size 32 --threads 2

`--precision bf16` runs under `torch.autocast("cpu", dtype=torch.bfloat16)`, beside
`convnet bench --precision bf16`. It prints the same `train:` and `infer:` lines: random data, softmax cross-entropy, plain SGD
(lr 0.01), `zero_grad(set_to_none=True)` / `backward()` / `step()`, medians after two warm-ups;
inference under `inference_mode()` in eval mode.
"""

import argparse
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.shortcut(x))


class ResNet18Cifar(nn.Module):
    """3×3/1 stem of 64 with BatchNorm and ReLU, no max pool, stages 64-128-256-512."""

    def __init__(self, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        layers, cin = [], 64
        for i, cout in enumerate([64, 128, 256, 512]):
            for b in range(2):
                layers.append(BasicBlock(cin, cout, 2 if b == 0 and i > 0 else 1))
                cin = cout
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(512, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layers(x)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class LeNet5(nn.Module):
    """convnet's lenet5: 6@5×5 pad 2, ReLU, max-pool 2, 16@5×5, ReLU, max-pool 2, 120-84-10."""

    def __init__(self, classes=10):
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 5, padding=2)
        self.c2 = nn.Conv2d(6, 16, 5)
        self.f1 = nn.Linear(16 * 5 * 5, 120)
        self.f2 = nn.Linear(120, 84)
        self.f3 = nn.Linear(84, classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        x = torch.flatten(x, 1)
        return self.f3(F.relu(self.f2(F.relu(self.f1(x)))))


MODELS = {"resnet18-cifar": (ResNet18Cifar, (3, 32, 32)), "lenet5": (LeNet5, (1, 28, 28))}


def median_of(seconds, f):
    f()
    f()
    times, start = [], time.perf_counter()
    while len(times) < 3 or time.perf_counter() - start < seconds:
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="resnet18-cifar", choices=sorted(MODELS))
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seconds", type=float, default=3.0)
    # convnet's --precision bf16 against torch.autocast("cpu", dtype=torch.bfloat16).
    p.add_argument("--precision", choices=["f32", "bf16"], default="f32")
    a = p.parse_args()
    bf16 = a.precision == "bf16"
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    make, shape = MODELS[a.model]
    model = make()
    params = sum(p.numel() for p in model.parameters())
    print(f"{a.model} (PyTorch {torch.__version__}): {params:,} parameters, {a.threads} threads, {a.precision}")
    x = torch.randn(a.batch_size, *shape)
    y = torch.arange(a.batch_size) % 10
    opt = torch.optim.SGD(model.parameters(), lr=0.01)

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    model.train()
    t = median_of(a.seconds, step)
    print(f"train: {a.batch_size / t:.1f} img/s (batch {a.batch_size}, median step {t * 1e3:.2f} ms, SGD lr 0.01)")
    model.eval()
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        x1 = torch.randn(1, *shape)
        t1 = median_of(a.seconds / 2, lambda: model(x1))
        tb = median_of(a.seconds / 2, lambda: model(x))
    print(f"infer: {t1 * 1e3:.3f} ms at batch 1, {tb * 1e3:.2f} ms at batch {a.batch_size} ({a.batch_size / tb:.1f} img/s)")


if __name__ == "__main__":
    main()
