#!/usr/bin/env bash
# What checkpointing costs the training loop: the reference model, one
# epoch of Fashion-MNIST on one core, without checkpoints and with one every
# 500 and every 100 steps (1875 steps an epoch), interleaved, RUNS times;
# prints the median samples/s of each and the ratio to no checkpoints.
# Usage: bench/checkpoint_cost.sh [BUILD_DIR] [RUNS]
set -u
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset, as on a user's machine
# (these machines set them); FORCED=1 keeps the environment's.
[ "${FORCED:-0}" = 1 ] || unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
build=${1:-build}
runs=${2:-5}
regula=$(cd "$build" && pwd)/regula
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
pin=()
command -v taskset > /dev/null && pin=(taskset -c 0)
declare -A rates
for ((r = 0; r < runs; r++)); do
  for every in 0 500 100; do
    rm -rf "$dir/ck"
    ck=()
    [ "$every" != 0 ] && ck=(--checkpoint-every "$every" --checkpoint-dir "$dir/ck")
    "${pin[@]}" "$regula" train --data fashion-mnist --epochs 1 --seed 1 --log-every 0 --log "$dir/l.jsonl" \
      "${ck[@]}" > /dev/null 2> "$dir/err" || { echo "run failed: $(cat "$dir/err")"; exit 1; }
    rates[$every]+="$(grep -o '"samples_per_s":[0-9.]*' "$dir/l.jsonl" | cut -d: -f2) "
  done
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
base=$(echo "${rates[0]}" | median)
for every in 0 500 100; do
  m=$(echo "${rates[$every]}" | median)
  printf 'checkpoint every %-4s steps: median %8.0f samples/s (%d runs)  %.3f of none\n' \
    "$([ "$every" = 0 ] && echo never || echo "$every")" "$m" "$runs" "$(awk -v a="$m" -v b="$base" 'BEGIN { print a / b }')"
done
