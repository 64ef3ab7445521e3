#!/usr/bin/env bash
# Issue 11's top-k target (README, Results: "Fewer and smaller exchanges"):
# the reference example (Fashion-MNIST, its model, Adam, batch 32), 2
# worker threads, EPOCHS epochs (default 10, the example's), seeds 1-5;
# each configuration's test accuracy (mean and per seed) against all-reduce
# with the same optimizer (Adam rows: the default all-reduce), and the
# log's compression (last epoch).
# Accuracy is exact per configuration (timings are not used).
#   bench/topk_target.sh [BUILD] [EPOCHS]
set -euo pipefail
build=${1:-build}
epochs=${2:-10}
regula="$build/regula"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# name|base (the all-reduce it is measured against)|arguments
configs=("allreduce|allreduce|"
         "allreduce, --reg-scope local|allreduce|--reg-scope local"
         "topk:0.01|allreduce|--compress topk:0.01"
         "topk:0.01, no error feedback|allreduce|--compress topk:0.01 --error-feedback off"
         "topk:0.01 --compress-update|allreduce|--compress topk:0.01 --compress-update --reg-scope local"
         "topk:1 (lossless) --compress-update|allreduce|--compress topk:1 --error-feedback off --compress-update --reg-scope local"
         "SGD lr 0.05: allreduce|sgd|--optimizer sgd --lr 0.05"
         "SGD lr 0.05: topk:0.01|sgd|--optimizer sgd --lr 0.05 --compress topk:0.01")
for cf in "${configs[@]}"; do
  IFS='|' read -r name base args <<< "$cf"
  for s in 1 2 3 4 5; do
    # shellcheck disable=SC2086
    "$regula" train --workers 2 --epochs "$epochs" --seed "$s" $args --progress none --log-every 0 \
      --log "$tmp/$s.jsonl" > /dev/null 2>&1
    python3 - "$tmp/$s.jsonl" >> "$tmp/$(echo "$name" | tr -c 'a-zA-Z0-9\n' _)" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
print([e for e in ev if e["event"] == "end"][0]["test_acc"],
      [e for e in ev if e["event"] == "epoch"][-1].get("compression", 1.0))
PY
  done
  echo "$name|$base" >> "$tmp/order"
done
python3 - "$tmp" "$epochs" <<'PY'
import re, sys
tmp, epochs = sys.argv[1], sys.argv[2]
key = lambda n: re.sub(r"[^a-zA-Z0-9]", "_", n)
rows = [l.rstrip("\n").split("|") for l in open(f"{tmp}/order")]
res = {n: [list(map(float, l.split())) for l in open(f"{tmp}/{key(n)}")] for n, _ in rows}
print(f"| configuration ({epochs} epochs, 2 workers) | test acc (mean, seeds 1-5) | against all-reduce | per seed (points) | compression |")
print("|---|---|---|---|---|")
for n, b in rows:
    base = res["allreduce" if b == "allreduce" else "SGD lr 0.05: allreduce"]
    r = res[n]
    d = [100 * (x[0] - y[0]) for x, y in zip(r, base)]
    print(f"| {n} | {sum(x[0] for x in r) / len(r):.4f} | {sum(d) / len(d):+.2f} | "
          + " ".join(f"{x:+.1f}" for x in d) + f" | {r[-1][1]:.1f}× |")
PY
