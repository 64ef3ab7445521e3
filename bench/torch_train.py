#!/usr/bin/python3
"""The PyTorch side of bench/: the same models, data, batch and optimizer as
bench_train.c, timed the same way (wall clock of one training epoch, data
already in memory, one thread), so that the ratio printed by run.sh compares
the training loops and nothing else.

Models (names shared with bench_train):
  ref   dense(64, relu, l2=0.01) dropout(0.5) dense(10, softmax, l2=0.01)
        = Linear(784,64) ReLU Dropout(0.5) Linear(64,10), cross-entropy plus
        0.01 * sum(W^2) over both kernels (Keras' kernel_regularizer), batch 32
  wide  dense(1024, relu) dense(1024, relu) dense(10, softmax), batch 128

Prints one line per run:  torch <model> run <k> samples/s <X> peak_rss_mb <M>
and at the end:           torch <model> median samples/s <X>

Run with Debian's interpreter (/usr/bin/python3), which sees python3-torch.
"""
import argparse
import gzip
import os
import resource
import statistics
import struct
import sys
import time

import torch
from torch import nn

PRESETS = {"ref": 32, "wide": 128}


def read_idx(path, magic, header):
    """The payload of one IDX file (gzip or raw) after its header, checked."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < header:
        sys.exit(f"{path}: file ends after {len(data)} bytes, inside the header")
    m, n = struct.unpack(">II", data[:8])
    if m != magic:
        sys.exit(f"{path}: magic {m:#x}, expected {magic:#x}")
    return n, data[header:]


def find(data_dir, stem):
    for name in (stem + ".gz", stem):
        p = os.path.join(data_dir, name)
        if os.path.exists(p):
            return p
    sys.exit(f"{data_dir}: no {stem}[.gz]")


def load(data_dir, limit):
    n, pix = read_idx(find(data_dir, "train-images-idx3-ubyte"), 0x803, 16)
    nl, lab = read_idx(find(data_dir, "train-labels-idx1-ubyte"), 0x801, 8)
    if nl != n or len(pix) < n * 784 or len(lab) < n:
        sys.exit(f"{data_dir}: {n} images and {nl} labels, or files too short")
    if limit > 0:
        n = min(n, limit)
    x = torch.frombuffer(bytearray(pix[: n * 784]), dtype=torch.uint8)
    x = x.reshape(n, 784).float().div_(255.0)
    y = torch.frombuffer(bytearray(lab[:n]), dtype=torch.uint8).long()
    return x, y


def build(name):
    if name == "ref":
        net = nn.Sequential(nn.Linear(784, 64), nn.ReLU(), nn.Dropout(0.5),
                            nn.Linear(64, 10))
        kernels = [net[0].weight, net[3].weight]
        return net, kernels, 0.01
    net = nn.Sequential(nn.Linear(784, 1024), nn.ReLU(),
                        nn.Linear(1024, 1024), nn.ReLU(),
                        nn.Linear(1024, 10))
    return net, [], 0.0


def glorot_(net):
    # Keras/regula start: Glorot-uniform kernels, zero biases.  Speed does
    # not depend on it, but it keeps the two runs doing the same arithmetic.
    for mod in net:
        if isinstance(mod, nn.Linear):
            nn.init.xavier_uniform_(mod.weight)
            nn.init.zeros_(mod.bias)


def one_epoch(net, kernels, l2, opt, lossf, x, y, batch, gen):
    n = x.shape[0]
    perm = torch.randperm(n, generator=gen)
    for s in range(0, n, batch):
        idx = perm[s:s + batch]
        xb, yb = x[idx], y[idx]
        opt.zero_grad(set_to_none=True)
        loss = lossf(net(xb), yb)
        if l2:
            loss = loss + l2 * sum(w.pow(2).sum() for w in kernels)
        loss.backward()
        opt.step()
    return loss.item()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="ref", choices=sorted(PRESETS))
    ap.add_argument("--batch", type=int, default=0, help="0 = the model's (32 or 128)")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--limit", type=int, default=0, help="use the first N samples")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    a = ap.parse_args()
    if a.data == "fashion-mnist":
        a.data = "/usr/share/datasets/fashion-mnist"
    elif a.data.startswith("idx:"):
        a.data = a.data[4:]
    batch = a.batch or PRESETS[a.model]
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    x, y = load(a.data, a.limit)
    lossf = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(a.seed)
    rates = []
    for k in range(1, a.runs + 1):
        net, kernels, l2 = build(a.model)
        glorot_(net)
        net.train()
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        # A few untimed steps so that the allocator and the autograd graph
        # are warm, as they are for every step of a real epoch but the first.
        one_epoch(net, kernels, l2, opt, lossf, x[: batch * 8], y[: batch * 8], batch, gen)
        t0 = time.perf_counter()
        for _ in range(a.epochs):
            last = one_epoch(net, kernels, l2, opt, lossf, x, y, batch, gen)
        dt = time.perf_counter() - t0
        if last != last:
            sys.exit("torch: loss became NaN")
        rate = a.epochs * x.shape[0] / dt
        rates.append(rate)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6
        print(f"torch {a.model} run {k} samples/s {rate:.0f} peak_rss_mb {rss:.1f}", flush=True)
    print(f"torch {a.model} median samples/s {statistics.median(rates):.0f}")


if __name__ == "__main__":
    main()
