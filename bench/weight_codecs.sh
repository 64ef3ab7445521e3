#!/usr/bin/env bash
# Codecs on the weight exchanges of local SGD and EASGD, or (PS) on the
# parameter server's pushes: test accuracy (mean over seeds) and the
# compression ratio (the log's, last epoch), on the reference model, 2
# training workers (threads; the parameter server adds a server thread),
# 12,000 samples, 3 epochs — the protocol of the README's gradient-codec
# table.
#   bench/weight_codecs.sh [BUILD] [SEEDS] [weights|ps]   (default build, 3 seeds, weights)
set -euo pipefail
build=${1:-build}
seeds=${2:-3}
what=${3:-weights}
regula="$build/regula"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '| strategy | codec | test acc (mean of %s seeds) | min .. max | compression |\n|---|---|---|---|---|\n' "$seeds"
if [ "$what" = ps ]; then   # powersgd and dgc are refused there
  strats=("ps (K 0)|--workers 3 --strategy ps --staleness 0" "ps (K 4)|--workers 3 --strategy ps --staleness 4")
  codecs=(none fp16 sign topk:0.01 randk:0.05 qsgd:8)
else
  strats=("local-sgd (H/τ 8)|--workers 2 --strategy local-sgd --sync-every 8"
          "easgd (H/τ 4)|--workers 2 --strategy easgd --sync-every 4")
  codecs=(none fp16 sign topk:0.01 randk:0.05 qsgd:8 powersgd:2)
fi
for sa in "${strats[@]}"; do
  st=${sa%%|*} args=${sa#*|}
  for c in "${codecs[@]}"; do
    for s in $(seq 1 "$seeds"); do
      # shellcheck disable=SC2086
      "$regula" train --limit 12000 --epochs 3 $args --compress "$c" --seed "$s" \
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
print(f"| {st} | `{c}` | {sum(acc)/n:.4f} | {min(acc):.4f} .. {max(acc):.4f} | "
      + (f"{ratio:.1f}×" if ratio else "1×") + " |")
PY
  done
done
