#!/usr/bin/python3
"""Cross-check dagrun's gorgonia networks (lib/nn) against PyTorch.

Run (Debian's PyTorch: apt-get install -y python3-torch):

    go test ./lib/nn -run TestDumpForTorch -dump /tmp/nncheck
    /usr/bin/python3 scripts/torch_check.py /tmp/nncheck

For every network the Go test dumped (DIR/NAME/model/ with model.json and
one .npy per parameter, x.npy, y.npy, optional w.npy, loss.npy, grad.npy),
this script rebuilds the same network in PyTorch from model.json, loads the
weights, recomputes the weighted softmax cross-entropy and the flat gradient
(in the manifest's parameter order and layouts), and compares them with what
Go computed. The reference runs in float64 from the same float32 weights, so
the reported error is that of Go's float32 arithmetic. It prints one
PASS/FAIL line per network and exits 1 if any failed.

Relative error = max |go - torch| / max |torch| over the flat gradient, and
|go - torch| / |torch| for the loss; both must be below 1e-4.
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

TOL = 1e-4


def forward(cfg, p, x):
    """Logits of x [N,1,H,W] for cfg, from the parameter dict p (torch layouts)."""
    arch = cfg["arch"]
    if arch == "mlp":
        h = x.reshape(x.shape[0], -1)
        for i in range(len(cfg["hidden"])):
            h = F.relu(F.linear(h, p[f"fc{i+1}.weight"], p[f"fc{i+1}.bias"]))
        return F.linear(h, p["out.weight"], p["out.bias"])
    if arch == "cnn":
        h = F.max_pool2d(F.relu(F.conv2d(x, p["conv1.weight"], p["conv1.bias"], padding=1)), 2)
        h = F.max_pool2d(F.relu(F.conv2d(h, p["conv2.weight"], p["conv2.bias"], padding=1)), 2)
        return F.linear(h.reshape(h.shape[0], -1), p["fc.weight"], p["fc.bias"])
    if arch == "fcn":
        f = F.relu(F.conv2d(x, p["conv1.weight"], p["conv1.bias"], padding=1))
        f = F.relu(F.conv2d(f, p["conv2.weight"], p["conv2.bias"], padding=1))
        h = F.max_pool2d(f, 2)
        h = F.relu(F.conv2d(h, p["conv3.weight"], p["conv3.bias"], padding=1))
        h = F.relu(F.conv2d(h, p["conv4.weight"], p["conv4.bias"], padding=2, dilation=2))
        h = F.interpolate(h, scale_factor=2, mode="nearest")
        return F.conv2d(torch.cat([f, h], 1), p["head.weight"], p["head.bias"])
    raise ValueError(f"unknown arch {arch!r}")


def check(d, dtype):
    mdir = os.path.join(d, "model")
    with open(os.path.join(mdir, "model.json")) as fh:
        man = json.load(fh)
    cfg = man["config"]
    params, order = {}, []
    for mp in man["params"]:
        a = np.load(os.path.join(mdir, mp["file"])).astype(np.float64)
        assert list(a.shape) == mp["shape"], (mp["name"], a.shape, mp["shape"])
        # Go stores linear weights [in, out]; torch's F.linear wants [out, in].
        transposed = mp["name"].endswith(".weight") and a.ndim == 2
        t = torch.tensor(a.T.copy() if transposed else a, dtype=dtype, requires_grad=True)
        params[mp["name"]] = t
        order.append((mp["name"], transposed))
    x = torch.tensor(np.load(os.path.join(d, "x.npy")), dtype=dtype).unsqueeze(1)
    y = torch.tensor(np.load(os.path.join(d, "y.npy")), dtype=torch.long)
    wpath = os.path.join(d, "w.npy")
    w = torch.tensor(np.load(wpath), dtype=dtype) if os.path.exists(wpath) else torch.ones(y.shape, dtype=dtype)

    z = forward(cfg, params, x)
    logp = F.log_softmax(z, dim=1)
    picked = logp.gather(1, y.unsqueeze(1)).squeeze(1)  # [N] or [N,H,W]
    loss = -(w * picked).sum() / w.sum()
    loss.backward()
    flat = []
    for name, transposed in order:
        g = params[name].grad.detach().cpu().numpy()
        flat.append((g.T if transposed else g).reshape(-1))
    return float(loss.item()), np.concatenate(flat)


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    root = sys.argv[1]
    torch.set_num_threads(1)
    names = sorted(n for n in os.listdir(root) if os.path.isfile(os.path.join(root, n, "model", "model.json")))
    if not names:
        print(f"FAIL: no dumped networks under {root}")
        sys.exit(1)
    failed = False
    for name in names:
        d = os.path.join(root, name)
        go_loss = float(np.load(os.path.join(d, "loss.npy"))[0])
        go_grad = np.load(os.path.join(d, "grad.npy")).astype(np.float64)
        ref_loss, ref_grad = check(d, torch.float64)
        f32_loss, f32_grad = check(d, torch.float32)
        if ref_grad.shape != go_grad.shape:
            print(f"FAIL {name}: gradient has {go_grad.size} values, torch {ref_grad.size}")
            failed = True
            continue
        scale = max(np.abs(ref_grad).max(), 1e-30)
        gerr = np.abs(go_grad - ref_grad).max() / scale
        lerr = abs(go_loss - ref_loss) / max(abs(ref_loss), 1e-30)
        terr = np.abs(f32_grad - ref_grad).max() / scale  # torch's own float32 error, for scale
        ok = gerr < TOL and lerr < TOL
        failed |= not ok
        print(f"{'PASS' if ok else 'FAIL'} {name}: {go_grad.size} params, loss go {go_loss:.7f} torch {ref_loss:.7f} "
              f"(rel {lerr:.2e}), grad rel err {gerr:.2e} (torch float32 vs float64: {terr:.2e})")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
