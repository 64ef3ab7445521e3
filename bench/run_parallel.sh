#!/usr/bin/env bash
# Data-parallel speed: regula on 1 worker, 2 worker threads and 2 MPI
# processes, against PyTorch on one process and DistributedDataParallel
# (gloo, 2 processes, one thread each), interleaved, RUNS rounds, both
# models.  Prints samples/s medians, speed-ups over the 1-worker run of the
# same framework, and regula's share of time spent communicating (from the
# log's comm_seconds / seconds).
#
# Usage: bench/run_parallel.sh BUILD_DIR [RUNS]     (RUNS defaults to 3)
# Environment: LIMIT_WIDE=N samples for the 1024-wide model (default 20000).
set -euo pipefail
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset, as on a user's machine
# (these machines set them); FORCED=1 keeps the environment's.
[ "${FORCED:-0}" = 1 ] || unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
build=${1:?usage: bench/run_parallel.sh BUILD_DIR [RUNS]}
runs=${2:-3}
here=$(cd "$(dirname "$0")" && pwd)
bin=$build/regula
py=/usr/bin/python3
limit_wide=${LIMIT_WIDE:-20000}
cores=$(nproc)
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
# no oversubscription: Open MPI then yields in its progress loop, which
# halves the 2-process speed here
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
have_torch=0
"$py" -c 'import torch' >/dev/null 2>&1 && have_torch=1
have_mpi=0
command -v mpiexec >/dev/null 2>&1 && have_mpi=1

# samples/s and comm share of regula's epoch from its log
rg_rate() { grep '"event":"epoch"' "$1" | head -1 | sed -n 's/.*"samples_per_s":\([0-9.e+]*\).*/\1/p'; }
rg_comm() { grep '"event":"epoch"' "$1" | head -1 | awk '{
  match($0, /"seconds":[0-9.e+-]*/); s = substr($0, RSTART + 10, RLENGTH - 10);
  match($0, /"comm_seconds":\[[^]]*\]/); c = substr($0, RSTART + 16, RLENGTH - 17);
  n = split(c, v, ","); t = 0; for (i = 1; i <= n; i++) t += v[i];
  printf "%.3f\n", (n ? t / n : 0) / s }'; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

declare -A R C
for model in ref wide; do
  if [ $model = ref ]; then spec='dense(64, relu, l2=0.01) dropout(0.5) dense(10, softmax, l2=0.01)'; b=32; lim=0
  else spec='dense(1024, relu) dense(1024, relu) dense(10, softmax)'; b=128; lim=$limit_wide; fi
  args=(train --data fashion-mnist --model "$spec" --batch "$b" --epochs 1 --limit "$lim" --log-every 0)
  for ((k = 1; k <= runs; k++)); do
    "$bin" "${args[@]}" --log "$tmp/w1.jsonl" > /dev/null
    R[$model,rg1]+="$(rg_rate "$tmp/w1.jsonl") "; C[$model,rg1]+="$(rg_comm "$tmp/w1.jsonl") "
    "$bin" "${args[@]}" --workers 2 --log "$tmp/t2.jsonl" > /dev/null
    R[$model,rgt2]+="$(rg_rate "$tmp/t2.jsonl") "; C[$model,rgt2]+="$(rg_comm "$tmp/t2.jsonl") "
    if [ $have_mpi = 1 ]; then
      mpiexec -n 2 "$bin" "${args[@]}" --log "$tmp/m2.jsonl" > /dev/null
      R[$model,rgm2]+="$(rg_rate "$tmp/m2.jsonl") "; C[$model,rgm2]+="$(rg_comm "$tmp/m2.jsonl") "
    fi
    if [ $have_torch = 1 ]; then
      r=$("$py" "$here/torch_train.py" --model $model --limit "$lim" --runs 1 | awk '$3 == "run" { print $6 }')
      R[$model,pt1]+="$r "
      r=$("$py" "$here/ddp_train.py" --world 2 --model $model --limit "$lim" | awk '$3 == "run" { print $6 }')
      R[$model,ddp2]+="$r "
    fi
    echo "round $k/$runs of $model done" >&2
  done
done

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $cores cores; $runs interleaved rounds, medians; OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
echo "wide model: first $limit_wide samples (samples/s does not depend on it)"
printf '%-6s %-28s %12s %9s %11s\n' model run samples/s speed-up comm-share
for model in ref wide; do
  base_rg=$(echo ${R[$model,rg1]} | tr ' ' '\n' | median)
  base_pt=$(echo ${R[$model,pt1]:-} | tr ' ' '\n' | median)
  for key in rg1 rgt2 rgm2 pt1 ddp2; do
    [ -n "${R[$model,$key]:-}" ] || continue
    m=$(echo ${R[$model,$key]} | tr ' ' '\n' | median)
    case $key in rg1|rgt2|rgm2) base=$base_rg ;; *) base=$base_pt ;; esac
    case $key in rg1) name="regula 1 worker" ;; rgt2) name="regula 2 threads" ;; rgm2) name="regula 2 MPI processes" ;;
      pt1) name="PyTorch 1 process" ;; ddp2) name="PyTorch DDP gloo 2 processes" ;; esac
    cs=-; [ -n "${C[$model,$key]:-}" ] && cs=$(echo ${C[$model,$key]} | tr ' ' '\n' | median)
    printf '%-6s %-28s %12.0f %9.2f %11s\n' "$model" "$name" "$m" "$(awk -v a="$m" -v b="$base" 'BEGIN { print a / b }')" "$cs"
  done
done
