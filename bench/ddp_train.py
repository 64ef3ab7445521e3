#!/usr/bin/python3
"""PyTorch DistributedDataParallel (gloo backend, loopback) on the same models
as bench/torch_train.py: WORLD processes, one thread each, the global batch
split across them (per-process batch = batch / WORLD, as regula's --workers
does), Adam, one epoch.  Prints, from rank 0:

  ddp<WORLD> <model> run 1 samples/s <X>

DDP overlaps its gradient all-reduce with backward(), so it reports no
communication share of its own.

Run: /usr/bin/python3 bench/ddp_train.py --world 2 --model ref
"""
import argparse
import os
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_train as tt  # noqa: E402  (same data loading and models)


def worker(rank, a, port):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=a.world)
    torch.manual_seed(a.seed)
    x, y = tt.load(a.data, a.limit)
    batch = a.batch or tt.PRESETS[a.model]
    local = max(1, batch // a.world)
    net, kernels, l2 = tt.build(a.model)
    tt.glorot_(net)
    ddp = nn.parallel.DistributedDataParallel(net)
    opt = torch.optim.Adam(ddp.parameters(), lr=1e-3)
    lossf = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(a.seed)   # the same order on every rank

    def epoch(xs, ys):
        n = xs.shape[0]
        perm = torch.randperm(n, generator=gen)
        for s in range(0, n, batch):
            idx = perm[s:s + batch][rank * local:(rank + 1) * local]
            if idx.numel() == 0:
                idx = perm[s:s + 1]
            opt.zero_grad(set_to_none=True)
            loss = lossf(ddp(xs[idx]), ys[idx])
            if l2:
                loss = loss + l2 * sum(w.pow(2).sum() for w in kernels)
            loss.backward()
            opt.step()

    epoch(x[: batch * 8], y[: batch * 8])      # warm-up, untimed
    dist.barrier()
    t0 = time.perf_counter()
    epoch(x, y)
    dist.barrier()
    dt = time.perf_counter() - t0
    if rank == 0:
        print(f"ddp{a.world} {a.model} run 1 samples/s {x.shape[0] / dt:.0f}", flush=True)
    dist.destroy_process_group()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--world", type=int, default=2)
    ap.add_argument("--model", default="ref", choices=sorted(tt.PRESETS))
    ap.add_argument("--batch", type=int, default=0)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--port", type=int, default=29533)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    a = ap.parse_args()
    mp.spawn(worker, args=(a, a.port), nprocs=a.world, join=True)


if __name__ == "__main__":
    main()
