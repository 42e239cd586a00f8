#!/usr/bin/python3
"""Time one PyTorch CPU training step (forward + backward + SGD-momentum
update) at batch 32 for the networks of lib/nn: the 784-128-10 mlp, the cnn
on 28x28 (10 classes) and the fcn on 32x32 and 64x64 (20 categories +
background). Used by run.sh, which sets the threads and the allocator.

Prints one line per network: "name median_wall_seconds_per_step
peak_rss_MiB", then the thread count and the BLAS lines of
torch.__config__.show().
"""
import argparse
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class MLP(nn.Module):
    def __init__(self, hw=28, hidden=128, classes=10):
        super().__init__()
        self.fc1 = nn.Linear(hw * hw, hidden)
        self.fc2 = nn.Linear(hidden, classes)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


class CNN(nn.Module):
    def __init__(self, c1=8, c2=16, classes=10, hw=28):
        super().__init__()
        self.conv1 = nn.Conv2d(1, c1, 3, padding=1)
        self.conv2 = nn.Conv2d(c1, c2, 3, padding=1)
        self.fc = nn.Linear(c2 * (hw // 4) ** 2, classes)

    def forward(self, x):
        h = F.max_pool2d(F.relu(self.conv1(x)), 2)
        h = F.max_pool2d(F.relu(self.conv2(h)), 2)
        return self.fc(h.flatten(1))


class FCN(nn.Module):
    def __init__(self, c1=16, c2=32, classes=20):
        super().__init__()
        self.conv1 = nn.Conv2d(1, c1, 3, padding=1)
        self.conv2 = nn.Conv2d(c1, c1, 3, padding=1)
        self.conv3 = nn.Conv2d(c1, c2, 3, padding=1)
        self.conv4 = nn.Conv2d(c2, c2, 3, padding=2, dilation=2)
        self.head = nn.Conv2d(c1 + c2, classes + 1, 1)

    def forward(self, x):
        f = F.relu(self.conv2(F.relu(self.conv1(x))))
        h = F.relu(self.conv4(F.relu(self.conv3(F.max_pool2d(f, 2)))))
        h = F.interpolate(h, scale_factor=2, mode="nearest")
        return self.head(torch.cat([f, h], 1))


def bench(model, x, y, steps):
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step():
        opt.zero_grad(set_to_none=False)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--net", default="all", help="mlp, cnn, fcn32, fcn64 or all")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    n = 32
    cases = {
        "mlp": lambda: (MLP(), torch.rand(n, 1, 28, 28), torch.randint(0, 10, (n,))),
        "cnn": lambda: (CNN(), torch.rand(n, 1, 28, 28), torch.randint(0, 10, (n,))),
        "fcn32": lambda: (FCN(), torch.rand(n, 1, 32, 32), torch.randint(0, 21, (n, 32, 32))),
        "fcn64": lambda: (FCN(), torch.rand(n, 1, 64, 64), torch.randint(0, 21, (n, 64, 64))),
    }
    names = list(cases) if a.net == "all" else [a.net]
    for name in names:
        model, x, y = cases[name]()
        wall = bench(model, x, y, a.steps)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{name} {wall:.6f} {rss:.1f}")
    print(f"threads {torch.get_num_threads()}, mkldnn (oneDNN convolutions) {torch.backends.mkldnn.is_available()}")
    for line in torch.__config__.show().splitlines():
        if any(k in line for k in ("BLAS", "MKL", "LAPACK", "oneDNN", "OpenMP")):
            print("config " + line.strip())


if __name__ == "__main__":
    main()
