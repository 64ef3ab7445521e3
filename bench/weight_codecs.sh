#!/usr/bin/env bash
# Codecs on the weight exchanges of local SGD and EASGD: test accuracy
# (mean over seeds) and the compression ratio (the log's, last epoch), on
# the reference model, 2 worker threads, 12,000 samples, 3 epochs — the
# protocol of the README's gradient-codec table.
#   bench/weight_codecs.sh [BUILD] [SEEDS]     (default build, 3 seeds)
set -euo pipefail
build=${1:-build}
seeds=${2:-3}
regula="$build/regula"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '| strategy | codec | test acc (mean of %s seeds) | min .. max | compression |\n|---|---|---|---|---|\n' "$seeds"
for st in "local-sgd --sync-every 8" "easgd --sync-every 4"; do
  for c in none fp16 sign topk:0.01 randk:0.05 qsgd:8 powersgd:2; do
    for s in $(seq 1 "$seeds"); do
      # shellcheck disable=SC2086
      "$regula" train --limit 12000 --epochs 3 --workers 2 --strategy $st --compress "$c" --seed "$s" \
        --log "$tmp/$s.jsonl" --progress none > /dev/null 2>&1 || true
    done
    python3 - "$st" "$c" "$tmp" "$seeds" <<'PY'
import json, sys
st, c, tmp, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
acc, ratio = [], 0.0
for s in range(1, n + 1):
    ev = [json.loads(l) for l in open(f"{tmp}/{s}.jsonl")]
    end = [e for e in ev if e["event"] == "end"][0]
    acc.append(end.get("test_acc") or 0.0)
    ratio = [e for e in ev if e["event"] == "epoch"][-1].get("compression", 0.0)
print(f"| {st.split()[0]} (H/τ {st.split()[-1]}) | `{c}` | {sum(acc)/n:.4f} | {min(acc):.4f} .. {max(acc):.4f} | "
      + (f"{ratio:.1f}×" if ratio else "1×") + " |")
PY
  done
done
