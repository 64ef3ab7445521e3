#!/usr/bin/env bash
# Times one training epoch of regula (BUILD_DIR/bench_train) and, when
# python3-torch is installed, of the same model in PyTorch, interleaved
# (regula, torch, regula, torch, ...) so that both see the same machine
# weather, RUNS times each, one thread each, pinned to one core.  Prints the
# median samples/s of each, the ratio, and the machine.
#
# Usage: bench/run.sh BUILD_DIR [RUNS]      (RUNS defaults to 5)
# Environment: LIMIT=N trains on the first N samples (default: all 60000);
#              MODELS="ref wide" picks the models; CORE=0 the core to pin to.
set -euo pipefail

build=${1:?usage: bench/run.sh BUILD_DIR [RUNS]}
runs=${2:-5}
here=$(cd "$(dirname "$0")" && pwd)
bin=$build/bench_train
models=${MODELS:-ref wide}
limit=${LIMIT:-0}
core=${CORE:-0}
py=/usr/bin/python3

[ -x "$bin" ] || { echo "run.sh: $bin not found; build first (make build)" >&2; exit 1; }

cores=$(nproc)   # before OMP_NUM_THREADS=1, which GNU nproc obeys
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
pin=()
if command -v taskset >/dev/null 2>&1; then pin=(taskset -c "$core"); fi

have_torch=0
if [ -x "$py" ] && "$py" -c 'import torch' >/dev/null 2>&1; then have_torch=1; fi

# Prints the samples/s of one single-run invocation, from its "run 1" line.
rate() { "$@" | awk '$3 == "run" { print $6 }'; }

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan";
  else if (NR % 2) printf "%.1f\n", v[(NR + 1) / 2];
  else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

declare -A med_rg med_pt
for m in $models; do
  rg=() pt=()
  for ((k = 1; k <= runs; k++)); do
    r=$(rate "${pin[@]}" "$bin" --model "$m" --runs 1 --threads 1 --limit "$limit" --data fashion-mnist)
    [ -n "$r" ] || { echo "run.sh: bench_train --model $m failed" >&2; exit 1; }
    echo "regula $m run $k samples/s $r"
    rg+=("$r")
    if [ $have_torch = 1 ]; then
      r=$(rate "${pin[@]}" "$py" "$here/torch_train.py" --model "$m" --runs 1 --threads 1 --limit "$limit")
      [ -n "$r" ] || { echo "run.sh: torch_train.py --model $m failed" >&2; exit 1; }
      echo "torch  $m run $k samples/s $r"
      pt+=("$r")
    fi
  done
  med_rg[$m]=$(printf '%s\n' "${rg[@]}" | median)
  if [ $have_torch = 1 ]; then med_pt[$m]=$(printf '%s\n' "${pt[@]}" | median); fi
done

echo
cpu=$(lscpu 2>/dev/null | awk -F: '/^Model name/ { sub(/^[ \t]+/, "", $2); print $2; exit }')
echo "machine: ${cpu:-unknown CPU}, $cores cores online; pinned: ${pin[*]:-no (taskset missing)}"
echo "runs: $runs per framework and model, interleaved; samples: ${limit/#0/all} of the Fashion-MNIST train split"
for v in OPENBLAS_CORETYPE OPENBLAS_L2_SIZE; do
  if [ -n "${!v:-}" ]; then echo "env: $v=${!v}"; fi
done
if [ $have_torch = 1 ]; then
  echo "torch: $("$py" -c 'import torch; print(torch.__version__)')"
else
  echo "torch: not installed (scripts/deps.sh --bench installs python3-torch); regula only"
fi
echo
if [ $have_torch = 1 ]; then
  printf '%-6s %18s %18s %8s\n' model "regula samples/s" "torch samples/s" ratio
  for m in $models; do
    printf '%-6s %18.0f %18.0f %8.2f\n' "$m" "${med_rg[$m]}" "${med_pt[$m]}" \
      "$(awk -v a="${med_rg[$m]}" -v b="${med_pt[$m]}" 'BEGIN { print a / b }')"
  done
else
  printf '%-6s %18s\n' model "regula samples/s"
  for m in $models; do printf '%-6s %18.0f\n' "$m" "${med_rg[$m]}"; done
fi
