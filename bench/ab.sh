#!/usr/bin/env bash
# A/B: the training speed of this build against a base commit's binary,
# interleaved (base, this, this, base, ...: each pair in alternating order,
# so both see the same machine weather), RUNS rounds, medians.  One epoch
# of `regula train` on Fashion-MNIST; samples/s is the epoch event's
# (the training loop alone: no data loading, no evaluation).
#
# Usage: bench/ab.sh BUILD_DIR [RUNS] [BASE_COMMIT]    (defaults: 7, af1c4ab)
# The base binary is built as bench/same_bits.sh builds it (build-base/),
# or given as BASE_BIN.  OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset,
# as on a user's machine; FORCED=1 keeps the environment's.
set -uo pipefail
build=${1:?usage: bench/ab.sh BUILD_DIR [RUNS] [BASE_COMMIT]}
runs=${2:-7}
base=${3:-af1c4ab}
here=$(cd "$(dirname "$0")/.." && pwd)
new=$(cd "$build" && pwd)/regula
old=${BASE_BIN:-$here/build-base/build/regula}
if [ -z "${BASE_BIN:-}" ]; then
  # same_bits.sh builds the base binary (and checks the commit is there)
  BASE_BIN= "$here/bench/same_bits.sh" "$build" "$base" >/dev/null 2>&1 || true
  [ -x "$old" ] || { echo "ab: could not build $base (see bench/same_bits.sh)" >&2; exit 1; }
fi
cores=$(nproc)   # before OMP_NUM_THREADS=1, which GNU nproc obeys
[ "${FORCED:-0}" = 1 ] || unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ref='dense(64, relu, l2=0.01) dropout(0.5) dense(10, softmax, l2=0.01)'
wide='dense(1024, relu) dense(1024, relu) dense(10, softmax)'

rate() {   # BIN ARGS...: samples/s of one epoch
  "$@" --log "$tmp/l.jsonl" --log-every 0 --epochs 1 >/dev/null 2>&1 || { echo nan; return; }
  grep '"event":"epoch"' "$tmp/l.jsonl" | head -1 | sed -n 's/.*"samples_per_s":\([0-9.e+]*\).*/\1/p'
}
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) printf "%.0f", v[(NR + 1) / 2];
  else printf "%.0f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

printf '%-34s %12s %12s %7s\n' "configuration" "base s/s" "this s/s" "ratio"
case_ab() {   # NAME ARGS...
  local name=$1; shift
  local a=() b=()
  for ((k = 1; k <= runs; k++)); do
    if ((k % 2)); then a+=("$(rate "$old" train "$@")"); b+=("$(rate "$new" train "$@")")
    else b+=("$(rate "$new" train "$@")"); a+=("$(rate "$old" train "$@")"); fi
  done
  local ma mb
  ma=$(printf '%s\n' "${a[@]}" | median)
  mb=$(printf '%s\n' "${b[@]}" | median)
  printf '%-34s %12s %12s %7s\n' "$name" "$ma" "$mb" "$(awk -v a="$ma" -v b="$mb" 'BEGIN { printf "%.3f", b / a }')"
  echo "  base runs: ${a[*]}" >&2
  echo "  this runs: ${b[*]}" >&2
}
common=(--data fashion-mnist --seed 1)
case_ab "reference, 1 worker" "${common[@]}" --model "$ref" --batch 32
case_ab "reference, 2 threads" "${common[@]}" --model "$ref" --batch 32 --workers 2
case_ab "1024-wide, 1 worker (20k samples)" "${common[@]}" --model "$wide" --batch 128 --limit 20000
case_ab "1024-wide, 2 threads (shared)" "${common[@]}" --model "$wide" --batch 128 --limit 20000 --workers 2
cpu=$(lscpu 2>/dev/null | awk -F: '/^Model name/ { sub(/^[ \t]+/, "", $2); print $2; exit }')
echo "machine: ${cpu:-unknown}, $cores cores; medians of $runs interleaved runs; OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
