#!/usr/bin/env bash
# What --deterministic costs: one epoch of `regula train` with and without
# it, 1 worker, pinned to one core (taskset -c ${CORE:-1}), interleaved
# (normal, deterministic, deterministic, normal, ...: both see the same
# machine weather), RUNS rounds, medians and their ratio.  samples/s is the
# epoch event's: the training loop alone (no loading, no evaluation).
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset, as on a user's machine.
#
# Usage: bench/det_cost.sh BUILD_DIR [RUNS]     (default 5)
set -uo pipefail
build=${1:?usage: bench/det_cost.sh BUILD_DIR [RUNS]}
runs=${2:-5}
bin=$(cd "$build" && pwd)/regula
core=${CORE:-1}
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ref='dense(64, relu, l2=0.01) dropout(0.5) dense(10, softmax, l2=0.01)'
wide='dense(1024, relu) dense(1024, relu) dense(10, softmax)'

rate() {   # ARGS...: samples/s of one epoch
  taskset -c "$core" "$bin" train "$@" --log "$tmp/l.jsonl" --log-every 0 --epochs 1 -q >/dev/null 2>&1 || { echo nan; return; }
  grep '"event":"epoch"' "$tmp/l.jsonl" | head -1 | sed -n 's/.*"samples_per_s":\([0-9.e+]*\).*/\1/p'
}
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) printf "%.0f", v[(NR + 1) / 2];
  else printf "%.0f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

printf '%-30s %12s %15s %7s\n' "model" "normal s/s" "deterministic" "ratio"
one_case() {   # NAME ARGS...
  local name=$1; shift
  local a=() b=()
  for ((k = 1; k <= runs; k++)); do
    if ((k % 2)); then a+=("$(rate "$@")"); b+=("$(rate "$@" --deterministic)")
    else b+=("$(rate "$@" --deterministic)"); a+=("$(rate "$@")"); fi
  done
  local ma mb
  ma=$(printf '%s\n' "${a[@]}" | median)
  mb=$(printf '%s\n' "${b[@]}" | median)
  printf '%-30s %12s %15s %7s\n' "$name" "$ma" "$mb" "$(awk -v a="$ma" -v b="$mb" 'BEGIN { printf "%.2f", b / a }')"
  echo "  normal runs:        ${a[*]}" >&2
  echo "  deterministic runs: ${b[*]}" >&2
}
common=(--data fashion-mnist --seed 1 --optimizer adam --lr 0.001)
one_case "reference (batch 32)" "${common[@]}" --model "$ref" --batch 32
one_case "1024-wide (batch 128, 20k)" "${common[@]}" --model "$wide" --batch 128 --limit 20000
cpu=$(lscpu 2>/dev/null | awk -F: '/^Model name/ { sub(/^[ \t]+/, "", $2); print $2; exit }')
echo "machine: ${cpu:-unknown}; core $core; medians of $runs interleaved runs; load average $(cut -d' ' -f1-3 /proc/loadavg)"
