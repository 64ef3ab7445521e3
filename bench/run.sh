#!/usr/bin/env bash
# Times one training epoch of regula (BUILD_DIR/bench_train) and, when
# python3-torch is installed, of the same model in PyTorch, interleaved
# (regula, torch, regula, torch, ...) so that both see the same machine
# weather, RUNS times each, one thread each, pinned to one core.  Prints the
# median samples/s of each (regula's training loop, `regula train`'s own
# epoch rate, and beside it the whole rg_train call's, which adds the set-up
# and a final pass over the training set), each one's share of the core's
# FMA peak, the ratio, each one's peak resident memory (MB,
# getrusage's ru_maxrss: the data as loaded, the model, the run's buffers),
# and the machine; then the peak resident memory of `regula train` on the
# README's reference example, one epoch (training and test sets, the
# evaluation), measured by GNU time (package time) when it is installed.
#
# Usage: bench/run.sh BUILD_DIR [RUNS]      (RUNS defaults to 5)
# Environment: LIMIT=N trains on the first N samples (default: all 60000);
#              MODELS="ref wide" picks the models; CORE=0 the core to pin to;
#              GEMM_AB=0 leaves out regula --gemm openblas (by default each
#              round runs regula with --gemm auto, then --gemm openblas, then
#              torch, and the table compares the two choices of kernels);
#              TORCH=0 leaves out torch; DATA=SOURCE trains regula on
#              another source (tests: csv:FILE), then without torch and
#              without the reference example's memory (both Fashion-MNIST's).
#
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset for every run, as on a
# user's machine (a machine that sets them, as the development machines
# do, would otherwise time the kernel they force).  FORCED=1 also times
# regula (--gemm auto) with the environment's settings in each round,
# labelled as such beside the user's figures.
set -euo pipefail

build=${1:?usage: bench/run.sh BUILD_DIR [RUNS]}
runs=${2:-5}
here=$(cd "$(dirname "$0")" && pwd)
bin=$build/bench_train
models=${MODELS:-ref wide}
gemm_ab=${GEMM_AB:-1}
limit=${LIMIT:-0}
data=${DATA:-fashion-mnist}
core=${CORE:-0}
py=/usr/bin/python3

[ -x "$bin" ] || { echo "run.sh: $bin not found; build first (make build)" >&2; exit 1; }

# What this environment forces, kept for FORCED=1; then what a user gets.
forced_env=()
for v in OPENBLAS_CORETYPE OPENBLAS_L2_SIZE; do
  if [ -n "${!v:-}" ]; then forced_env+=("$v=${!v}"); fi
done
forced=0
if [ "${FORCED:-0}" = 1 ]; then
  if [ ${#forced_env[@]} -gt 0 ]; then forced=1
  else echo "run.sh: FORCED=1, but neither OPENBLAS_CORETYPE nor OPENBLAS_L2_SIZE is set: nothing to force" >&2; fi
fi
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE

cores=$(nproc)   # before OMP_NUM_THREADS=1, which GNU nproc obeys
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
pin=()
if command -v taskset >/dev/null 2>&1; then pin=(taskset -c "$core"); fi

have_torch=0
if [ "${TORCH:-1}" = 1 ] && [ "$data" = fashion-mnist ] && [ -x "$py" ] && "$py" -c 'import torch' >/dev/null 2>&1; then
  have_torch=1
fi

# Prints "samples/s peak_rss_mb cpu_samples/s call_samples/s" of one
# single-run invocation, from its "run 1" line: samples/s is the training
# loop's; torch's line has no CPU-time or whole-call figure (0).
rate() { "$@" | awk '$3 == "run" { print $6, $8, ($10 == "" ? 0 : $10), ($12 == "" ? 0 : $12) }'; }

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan";
  else if (NR % 2) printf "%.1f\n", v[(NR + 1) / 2];
  else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

declare -A med_rg med_pt mem_rg mem_pt med_ob cpu_rg cpu_ob call_rg med_fo call_fo
for m in $models; do
  rg=() pt=() rgm=() ptm=() ob=() rgc=() obc=() rgw=() fo=() fow=()
  for ((k = 1; k <= runs; k++)); do
    read -r r mb cr w < <(rate "${pin[@]}" "$bin" --model "$m" --runs 1 --threads 1 --limit "$limit" --data "$data" \
                            --gemm auto) || true
    [ -n "${r:-}" ] || { echo "run.sh: bench_train --model $m failed" >&2; exit 1; }
    echo "regula $m run $k samples/s $r peak_rss_mb $mb cpu_samples/s $cr call_samples/s $w"
    rg+=("$r") rgm+=("$mb") rgc+=("$cr") rgw+=("$w")
    if [ $forced = 1 ]; then
      read -r r mb cr w < <(rate env "${forced_env[@]}" "${pin[@]}" "$bin" --model "$m" --runs 1 --threads 1 \
                              --limit "$limit" --data "$data" --gemm auto) || true
      [ -n "${r:-}" ] || { echo "run.sh: bench_train --model $m (${forced_env[*]}) failed" >&2; exit 1; }
      echo "regula $m run $k ${forced_env[*]} samples/s $r call_samples/s $w"
      fo+=("$r") fow+=("$w")
    fi
    if [ "$gemm_ab" = 1 ]; then
      read -r r mb cr w < <(rate "${pin[@]}" "$bin" --model "$m" --runs 1 --threads 1 --limit "$limit" --data "$data" \
                              --gemm openblas) || true
      [ -n "${r:-}" ] || { echo "run.sh: bench_train --model $m --gemm openblas failed" >&2; exit 1; }
      echo "regula $m run $k --gemm openblas samples/s $r cpu_samples/s $cr"
      ob+=("$r") obc+=("$cr")
    fi
    if [ $have_torch = 1 ]; then
      read -r r mb _ _ < <(rate "${pin[@]}" "$py" "$here/torch_train.py" --model "$m" --runs 1 --threads 1 --limit "$limit") || true
      [ -n "${r:-}" ] || { echo "run.sh: torch_train.py --model $m failed" >&2; exit 1; }
      echo "torch  $m run $k samples/s $r peak_rss_mb $mb"
      pt+=("$r") ptm+=("$mb")
    fi
  done
  med_rg[$m]=$(printf '%s\n' "${rg[@]}" | median)
  call_rg[$m]=$(printf '%s\n' "${rgw[@]}" | median)
  if [ $forced = 1 ]; then
    med_fo[$m]=$(printf '%s\n' "${fo[@]}" | median)
    call_fo[$m]=$(printf '%s\n' "${fow[@]}" | median)
  fi
  cpu_rg[$m]=$(printf '%s\n' "${rgc[@]}" | median)
  if [ "$gemm_ab" = 1 ]; then
    med_ob[$m]=$(printf '%s\n' "${ob[@]}" | median)
    cpu_ob[$m]=$(printf '%s\n' "${obc[@]}" | median)
  fi
  mem_rg[$m]=$(printf '%s\n' "${rgm[@]}" | median)
  if [ $have_torch = 1 ]; then
    med_pt[$m]=$(printf '%s\n' "${pt[@]}" | median)
    mem_pt[$m]=$(printf '%s\n' "${ptm[@]}" | median)
  fi
done

# The reference example as a user runs it (README, Quick start), one epoch.
ref_mem=n/a
if [ "$data" = fashion-mnist ] && [ -x /usr/bin/time ] && [ -x "$build/regula" ]; then
  tmp=$(mktemp -d)
  /usr/bin/time -f '%M' -o "$tmp/rss" "${pin[@]}" "$build/regula" train --data fashion-mnist \
    --model 'dense(64, relu, l2=0.01) dropout(0.5) dense(10, softmax, l2=0.01)' \
    --optimizer adam --lr 0.001 --batch 32 --epochs 1 --seed 1 --log-every 0 \
    --save "$tmp/ref.safetensors" >/dev/null 2>&1 || { echo "run.sh: regula train failed" >&2; rm -rf "$tmp"; exit 1; }
  ref_mem=$(awk 'END { printf "%.1f", $1 * 1024 / 1e6 }' "$tmp/rss")
  rm -rf "$tmp"
fi

# The core's FMA peak, measured now (bench_kernels: 12 FMA chains of the
# widest vectors, best of 5), and each model's matrix-product flops per
# training sample (forward and weight gradient of every dense layer, input
# gradient of all but the first): samples/s x flops / peak is the share of
# the core a framework turns into products.
peak=$("${pin[@]}" "$build/bench_kernels" --peak 2>/dev/null || echo 0)
declare -A flops=([ref]=204544 [wide]=9564160)
share() { awk -v r="$1" -v f="${flops[$2]:-0}" -v p="$peak" 'BEGIN { if (p > 0 && f > 0) printf "%.0f%%", 100 * r * f / (p * 1e9); else printf "n/a" }'; }

echo
cpu=$(lscpu 2>/dev/null | awk -F: '/^Model name/ { sub(/^[ \t]+/, "", $2); print $2; exit }')
echo "machine: ${cpu:-unknown CPU}, $cores cores online; pinned: ${pin[*]:-no (taskset missing)}"
echo "runs: $runs per framework and model, interleaved; samples: ${limit/#0/all} of $([ "$data" = fashion-mnist ] &&
  echo "the Fashion-MNIST train split" || echo "$data")"
if [ ${#forced_env[@]} -gt 0 ]; then
  echo "env: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset, as on a user's machine (this environment sets ${forced_env[*]}$(
    [ $forced = 1 ] && echo ": timed too, below" || echo "; FORCED=1 times regula with it too"))"
else
  echo "env: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset, as on a user's machine"
fi
if [ $have_torch = 1 ]; then
  echo "torch: $("$py" -c 'import torch; print(torch.__version__)')"
else
  echo "torch: not run (TORCH=0, DATA other than fashion-mnist, or not installed: scripts/deps.sh --bench installs python3-torch); regula only"
fi
echo
echo "FMA peak of the pinned core: ${peak} GFLOP/s (bench_kernels --peak)"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "n/a" }'; }
if [ $have_torch = 1 ]; then
  printf '%-6s %16s %8s %16s %8s %16s %8s %7s %10s %9s\n' model "regula samples/s" "of peak" "whole call" "of peak" \
    "torch samples/s" "of peak" ratio "regula MB" "torch MB"
  for m in $models; do
    printf '%-6s %16.0f %8s %16.0f %8s %16.0f %8s %7s %10.1f %9.1f\n' "$m" "${med_rg[$m]}" "$(share "${med_rg[$m]}" "$m")" \
      "${call_rg[$m]}" "$(share "${call_rg[$m]}" "$m")" "${med_pt[$m]}" "$(share "${med_pt[$m]}" "$m")" \
      "$(ratio "${med_rg[$m]}" "${med_pt[$m]}")" "${mem_rg[$m]}" "${mem_pt[$m]}"
  done
else
  printf '%-6s %16s %8s %16s %8s %10s\n' model "regula samples/s" "of peak" "whole call" "of peak" "regula MB"
  for m in $models; do
    printf '%-6s %16.0f %8s %16.0f %8s %10.1f\n' "$m" "${med_rg[$m]}" "$(share "${med_rg[$m]}" "$m")" \
      "${call_rg[$m]}" "$(share "${call_rg[$m]}" "$m")" "${mem_rg[$m]}"
  done
fi
echo "regula samples/s: the training loop's (the epoch events', \`regula train\`'s own epoch rate; torch's is its loop's too)"
echo "whole call: the rg_train call by the wall clock: the loop, the run's set-up and the final pass over the training set"
if [ $forced = 1 ]; then
  echo
  echo "regula with this environment's ${forced_env[*]} (FORCED=1; interleaved in the same rounds), not what a user gets"
  printf '%-6s %16s %8s %16s %8s %14s\n' model "forced samples/s" "of peak" "whole call" "of peak" "user / forced"
  for m in $models; do
    printf '%-6s %16.0f %8s %16.0f %8s %14s\n' "$m" "${med_fo[$m]}" "$(share "${med_fo[$m]}" "$m")" \
      "${call_fo[$m]}" "$(share "${call_fo[$m]}" "$m")" "$(ratio "${med_rg[$m]}" "${med_fo[$m]}")"
  done
fi
if [ "$gemm_ab" = 1 ]; then
  echo
  echo "regula's kernels (interleaved in the same rounds): --gemm auto (the table above) against --gemm openblas"
  printf '%-6s %-10s %18s %8s %22s %8s %8s\n' model clock "auto samples/s" "of peak" "openblas samples/s" "of peak" "ratio"
  for m in $models; do
    printf '%-6s %-10s %18.0f %8s %22.0f %8s %8s\n' "$m" "wall, loop" "${med_rg[$m]}" "$(share "${med_rg[$m]}" "$m")" \
      "${med_ob[$m]}" "$(share "${med_ob[$m]}" "$m")" "$(ratio "${med_rg[$m]}" "${med_ob[$m]}")"
    printf '%-6s %-10s %18.0f %8s %22.0f %8s %8s\n' "$m" "cpu, call" "${cpu_rg[$m]}" "$(share "${cpu_rg[$m]}" "$m")" \
      "${cpu_ob[$m]}" "$(share "${cpu_ob[$m]}" "$m")" "$(ratio "${cpu_rg[$m]}" "${cpu_ob[$m]}")"
  done
  echo "wall, loop: the training loop's samples/s; cpu, call: the whole call's samples over the process's CPU time"
  echo "(what the run cost its core, without the time other work took it)"
  echo
fi
echo "of peak: samples/s x the model's matrix-product flops per sample (ref 204,544, wide 9,564,160) / the FMA peak"
echo "MB: peak resident memory (median of the runs), data as loaded included"
echo "regula train, reference example, 1 epoch (README): peak resident ${ref_mem} MB"
