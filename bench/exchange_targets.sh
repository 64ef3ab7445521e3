#!/usr/bin/env bash
# The timed targets of issue 11 (README, Results: "Fewer and smaller
# exchanges"), interleaved rounds, medians; OPENBLAS_CORETYPE and
# OPENBLAS_L2_SIZE unset, as on a user's machine.
#   shm     bench/mpi_shm.c: one all-reduce between 2 processes, through
#           shared memory, over messages, and MPI_Allreduce
#   speed   the reference model, 1 epoch: 1 worker; 2 threads; 2 MPI
#           processes with all-reduce (shared memory, and REGULA_MPI_SHM=0);
#           2 MPI processes with local-sgd --sync-every 8, at batch 32 (16
#           a process) and at batch 64 (32 a process, one worker's batch),
#           each also with --local-moments
#   wide    the 1024-wide model (L2 + dropout), 4 threads over --link
#           1gbit,50us, batch 32, the first 8,000 samples: all-reduce and
#           powersgd:2
#   ps      the reference model, first 12,000 samples, --straggler 1:4:
#           all-reduce on 2 workers, ps --staleness 4 and 64 on 2 workers
#           and a server
# Usage: bench/exchange_targets.sh BUILD_DIR [ROUNDS]   (default 5)
set -euo pipefail
build=${1:?usage: bench/exchange_targets.sh BUILD_DIR [ROUNDS]}
rounds=${2:-5}
bin=$build/regula
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mpi=(mpiexec -n 2)
[ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ref='dense(64, relu, l2=0.01) dropout(0.5) dense(10, softmax, l2=0.01)'
wide='dense(1024, relu, l2=0.01) dropout(0.5) dense(10, softmax, l2=0.01)'

echo "## shm: one all-reduce, 2 processes (median of 9 blocks)"
"${mpi[@]}" "$build/mpi_shm" --reps 9

# name, then the command's words; appends samples/s (the last epoch's) to $tmp/name
run() {
  local name=$1; shift
  "$@" --data fashion-mnist --epochs 1 --seed 1 --progress none --log-every 0 --log "$tmp/log.jsonl" > /dev/null 2>&1
  grep '"event":"epoch"' "$tmp/log.jsonl" | tail -1 | sed 's/.*"samples_per_s":\([0-9.]*\).*/\1/' >> "$tmp/$name"
}
median() { sort -g "$tmp/$1" | awk '{ a[NR] = $1 } END { printf "%.0f", NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
runs() { sort -g "$tmp/$1" | awk '{ printf "%s%.0f", (NR > 1 ? " " : ""), $1 }'; }

for ((r = 1; r <= rounds; r++)); do
  run one "$bin" train --model "$ref" --batch 32
  run threads2 "$bin" train --model "$ref" --batch 32 --workers 2
  run mpi2 "${mpi[@]}" "$bin" train --model "$ref" --batch 32
  run mpi2msg "${mpi[@]}" -x REGULA_MPI_SHM=0 "$bin" train --model "$ref" --batch 32
  run local8 "${mpi[@]}" "$bin" train --model "$ref" --batch 32 --strategy local-sgd --sync-every 8
  run local8b64 "${mpi[@]}" "$bin" train --model "$ref" --batch 64 --strategy local-sgd --sync-every 8
  run local8lm "${mpi[@]}" "$bin" train --model "$ref" --batch 32 --strategy local-sgd --sync-every 8 --local-moments
  run local8b64lm "${mpi[@]}" "$bin" train --model "$ref" --batch 64 --strategy local-sgd --sync-every 8 --local-moments
  run wide_ar "$bin" train --model "$wide" --batch 32 --workers 4 --link 1gbit,50us --limit 8000
  run wide_psgd "$bin" train --model "$wide" --batch 32 --workers 4 --link 1gbit,50us --limit 8000 --compress powersgd:2
  run ps_ar "$bin" train --model "$ref" --batch 32 --workers 2 --straggler 1:4 --limit 12000
  run ps_k4 "$bin" train --model "$ref" --batch 32 --workers 3 --strategy ps --staleness 4 --straggler 1:4 --limit 12000
  run ps_k64 "$bin" train --model "$ref" --batch 32 --workers 3 --strategy ps --staleness 64 --straggler 1:4 --limit 12000
done
base=$(median one)
echo
echo "## samples/s, medians of $rounds interleaved rounds (runs sorted)"
printf '%-44s %10s %8s  %s\n' run median ratio runs
row() { printf '%-44s %10s %8s  %s\n' "$1" "$(median "$2")" "$(awk -v a="$(median "$2")" -v b="$3" 'BEGIN { printf "%.2f", a / b }')" "$(runs "$2")"; }
row "reference, 1 worker" one "$base"
row "reference, 2 threads" threads2 "$base"
row "reference, 2 MPI, all-reduce (shm)" mpi2 "$base"
row "reference, 2 MPI, all-reduce (messages)" mpi2msg "$base"
row "reference, 2 MPI, local-sgd H=8" local8 "$base"
row "reference, 2 MPI, local-sgd H=8, batch 64 (32 each)" local8b64 "$base"
row "reference, 2 MPI, local-sgd H=8, --local-moments" local8lm "$base"
row "reference, 2 MPI, local-sgd H=8, batch 64, --local-moments" local8b64lm "$base"
row "wide, 4 threads @1gbit, all-reduce" wide_ar "$(median wide_ar)"
row "wide, 4 threads @1gbit, powersgd:2" wide_psgd "$(median wide_ar)"
row "straggler 1:4, 2 workers, all-reduce" ps_ar "$(median ps_ar)"
row "straggler 1:4, ps K=4 (2 workers + server)" ps_k4 "$(median ps_ar)"
row "straggler 1:4, ps K=64 (2 workers + server)" ps_k64 "$(median ps_ar)"
